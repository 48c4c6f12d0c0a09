-- Saved agent states; $1: only those of this instance (NULL: all)
SELECT agent_id, state, pause_reason, since, instance
  FROM agent_state
 WHERE $1::text IS NULL OR instance = $1
 ORDER BY agent_id
