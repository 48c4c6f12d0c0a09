SELECT id FROM agents WHERE token_hash = $1
