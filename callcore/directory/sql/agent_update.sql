UPDATE agents SET name = $2, endpoint = $3, skills = $4::text::jsonb, updated_at = now()
 WHERE id = $1
RETURNING id
