INSERT INTO web_accounts (login, role, password_hash, endpoint)
VALUES ($1, $2, $3, $4)
ON CONFLICT (login) DO UPDATE
   SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash, endpoint = EXCLUDED.endpoint,
       updated_at = now()
RETURNING login, role, endpoint, updated_at
