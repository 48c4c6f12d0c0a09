SELECT id, agent_id, call_id, text, created_at, answered_by, answer_note, answered_at
  FROM help_requests
 WHERE (NOT $1::boolean OR answered_at IS NULL)
   AND ($2::text IS NULL OR agent_id = $2)
 ORDER BY id
 LIMIT $3
