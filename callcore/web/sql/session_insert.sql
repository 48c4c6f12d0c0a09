INSERT INTO web_sessions (id_hash, login, role, csrf, expires_at) VALUES ($1, $2, $3, $4, $5)
