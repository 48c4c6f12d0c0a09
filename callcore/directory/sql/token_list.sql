SELECT id, token_hash FROM agents WHERE token_hash IS NOT NULL
