SELECT id, request_id, sender, role, text, created_at
  FROM help_messages WHERE request_id = $1 ORDER BY id LIMIT 1000
