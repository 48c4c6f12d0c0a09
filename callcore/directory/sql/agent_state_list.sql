SELECT agent_id, state, pause_reason, since FROM agent_state ORDER BY agent_id
