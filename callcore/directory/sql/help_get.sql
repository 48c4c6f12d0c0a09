SELECT id, agent_id, call_id, text, created_at, answered_by, answer_note, answered_at
  FROM help_requests
 WHERE id = $1
