UPDATE web_accounts SET password_hash = $2 WHERE login = $1
