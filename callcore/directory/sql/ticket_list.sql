SELECT id, call_id, agent_id, type, text, caller_number, status, created_at
  FROM tickets
 WHERE ($1::text IS NULL OR agent_id = $1)
   AND ($2::text IS NULL OR call_id = $2)
   AND ($3::text IS NULL OR status = $3)
 ORDER BY id
 LIMIT $4
