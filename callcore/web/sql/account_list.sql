SELECT login, role, endpoint, updated_at FROM web_accounts ORDER BY login
