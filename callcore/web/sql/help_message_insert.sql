INSERT INTO help_messages (request_id, sender, role, text)
SELECT id, $2, $3, $4 FROM help_requests WHERE id = $1
RETURNING id, request_id, sender, role, text, created_at
