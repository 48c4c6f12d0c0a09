INSERT INTO memberships (agent_id, queue, penalty)
VALUES ($1, $2, $3)
ON CONFLICT (agent_id, queue) DO UPDATE SET penalty = EXCLUDED.penalty
 WHERE memberships.penalty IS DISTINCT FROM EXCLUDED.penalty
