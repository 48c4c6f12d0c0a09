INSERT INTO help_requests (agent_id, call_id, text)
VALUES ($1, $2, $3)
RETURNING id, agent_id, call_id, text, created_at, answered_by, answer_note, answered_at
