DELETE FROM web_accounts WHERE login = $1 RETURNING login
