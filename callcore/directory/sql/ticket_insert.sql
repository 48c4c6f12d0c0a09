INSERT INTO tickets (call_id, agent_id, type, text, caller_number)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, call_id, agent_id, type, text, caller_number, status, created_at
