UPDATE calls SET answered_at = $3, agent_id = $2 WHERE call_id = $1 RETURNING call_id
