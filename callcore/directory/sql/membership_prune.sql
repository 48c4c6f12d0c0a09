DELETE FROM memberships WHERE agent_id = $1 AND NOT (queue = ANY($2::text[]))
