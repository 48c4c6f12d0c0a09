INSERT INTO callbacks (lead_id, caller_number, campaign_id, queue, agent_id, due_at, note)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id
