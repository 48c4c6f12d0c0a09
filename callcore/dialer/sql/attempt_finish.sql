UPDATE dial_attempts
SET answered_at = $2, ended_at = $3, outcome = $4, q850_cause = $5, amd_status = $6, amd_cause = $7,
    abandoned = $8, agent_id = $9
WHERE id = $1
