INSERT INTO call_flags (call_id, agent_id, caller_number, reason, note) VALUES ($1, $2, $3, $4, $5)
RETURNING id, call_id, agent_id, caller_number, reason, note, created_at, reviewed_at, reviewed_by
