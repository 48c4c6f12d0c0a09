SELECT id, created_at, inserted FROM uploads WHERE campaign_id = $1 AND sha256 = $2 ORDER BY id DESC LIMIT 1
