INSERT INTO agent_state (agent_id, state, pause_reason, since)
SELECT $1, $2, $3, $4
 WHERE EXISTS (SELECT 1 FROM agents WHERE id = $1)
ON CONFLICT (agent_id) DO UPDATE
   SET state = EXCLUDED.state, pause_reason = EXCLUDED.pause_reason, since = EXCLUDED.since
RETURNING agent_id
