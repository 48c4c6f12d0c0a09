UPDATE campaigns SET mode = $2, queue = $3, caller_id = $4, settings = $5::text::jsonb, updated_at = now()
WHERE id = $1
