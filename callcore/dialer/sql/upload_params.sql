INSERT INTO upload_params (campaign_id, upload_id, file_name) VALUES ($1, $2, $3)
