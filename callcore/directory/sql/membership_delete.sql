DELETE FROM memberships WHERE agent_id = $1 AND queue = $2 RETURNING queue
