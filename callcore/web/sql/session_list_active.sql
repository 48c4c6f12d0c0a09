SELECT s.id_hash, s.login, s.role, s.csrf, s.expires_at, a.endpoint
  FROM web_sessions s JOIN web_accounts a ON a.login = s.login
 WHERE s.expires_at > now()
