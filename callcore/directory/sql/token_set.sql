UPDATE agents SET token_hash = $2 WHERE id = $1 RETURNING id
