SELECT s.agent_id, s.state, COALESCE(s.pause_reason, '') AS pause_reason, a.endpoint
  FROM agent_state s
  JOIN agents a ON a.id = s.agent_id
 WHERE $1::text IS NULL OR s.instance = $1
 ORDER BY s.agent_id
