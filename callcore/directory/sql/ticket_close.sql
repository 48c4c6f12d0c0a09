UPDATE tickets SET status = 'closed' WHERE id = $1
RETURNING id, call_id, agent_id, type, text, caller_number, status, created_at
