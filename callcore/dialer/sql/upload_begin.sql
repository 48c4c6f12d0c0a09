INSERT INTO uploads (campaign_id, file_name, sha256, encoding, delimiter)
VALUES ($1, $2, $3, $4, $5)
RETURNING id
