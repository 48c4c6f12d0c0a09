SELECT id, name, state, settings::text AS settings, created_at FROM campaigns WHERE name = $1
