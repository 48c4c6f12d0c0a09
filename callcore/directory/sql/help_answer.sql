UPDATE help_requests SET answered_by = $2, answer_note = $3, answered_at = now()
 WHERE id = $1 AND answered_at IS NULL
RETURNING id, agent_id, call_id, text, created_at, answered_by, answer_note, answered_at
