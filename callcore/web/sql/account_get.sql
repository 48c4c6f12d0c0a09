SELECT login, role, password_hash, endpoint FROM web_accounts WHERE login = $1
