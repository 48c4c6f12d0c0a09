INSERT INTO campaigns (name, mode, queue, caller_id, settings)
VALUES ($1, $2, $3, $4, $5::text::jsonb)
ON CONFLICT (name) DO NOTHING
RETURNING id, name, state, settings::text AS settings, created_at
