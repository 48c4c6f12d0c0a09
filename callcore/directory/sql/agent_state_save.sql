-- Save an agent's state as seen by instance $5. Another instance's row is left alone unless the agent is
-- logged out there, has no owner yet, or $6 (she logs in on $5: the agent moved to this node).
INSERT INTO agent_state AS s (agent_id, state, pause_reason, since, instance)
SELECT $1, $2, $3, $4, $5
 WHERE EXISTS (SELECT 1 FROM agents WHERE id = $1)
ON CONFLICT (agent_id) DO UPDATE
   SET state = EXCLUDED.state, pause_reason = EXCLUDED.pause_reason, since = EXCLUDED.since,
       instance = EXCLUDED.instance
 WHERE s.instance = EXCLUDED.instance OR s.instance = '' OR s.state = 'logged_out' OR $6::boolean
RETURNING agent_id
