INSERT INTO dial_attempts (id, lead_id, campaign_id, number, started_at, channel_id, instance)
VALUES ($1, $2, $3, $4, $5, $1, $6)
ON CONFLICT (id) DO NOTHING
