UPDATE uploads
SET rows_total = $2, inserted = $3, rejected = $4, invalid = $5, dup_in_file = $6, dup_in_campaign = $7,
    dnc = $8
WHERE id = $1
