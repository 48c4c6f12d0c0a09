DELETE FROM web_sessions WHERE id_hash = $1 OR expires_at <= now()
