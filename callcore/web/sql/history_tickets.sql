SELECT id, call_id, agent_id, type, text, caller_number, status, created_at
  FROM tickets WHERE caller_number = $1 ORDER BY created_at DESC LIMIT $2
