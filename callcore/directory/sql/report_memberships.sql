SELECT agent_id, queue FROM memberships ORDER BY agent_id, queue
