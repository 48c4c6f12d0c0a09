INSERT INTO agents (id, name, endpoint, skills)
VALUES ($1, $2, $3, $4::text::jsonb)
ON CONFLICT (id) DO NOTHING
RETURNING id
