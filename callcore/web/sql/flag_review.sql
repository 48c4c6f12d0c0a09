UPDATE call_flags SET reviewed_at = now(), reviewed_by = $2 WHERE id = $1
RETURNING id, call_id, agent_id, caller_number, reason, note, created_at, reviewed_at, reviewed_by
