SELECT id, call_id, agent_id, caller_number, reason, note, created_at, reviewed_at, reviewed_by
  FROM call_flags
 WHERE (NOT $1::boolean OR reviewed_at IS NULL)
 ORDER BY id DESC LIMIT $2
