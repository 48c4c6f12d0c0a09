"""Directory of queues, agents, skills and memberships in PostgreSQL, plus tickets, help requests,
call records, agent tokens, the ``callcore queue|agent`` CLI and queue reports."""
