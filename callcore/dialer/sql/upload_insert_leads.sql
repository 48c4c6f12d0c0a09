-- $1 campaign id, $2 source file name, $3 upload id. The rows left in upload_rows are unique, not on
-- the DNC list and new to the campaign; ON CONFLICT covers a concurrent upload of the same numbers.
WITH ins AS (
    INSERT INTO leads (campaign_id, phone_e164, name, tz, data, source_file, source_line, upload_id)
    SELECT $1, u.phone_e164, u.name, u.tz, u.data::jsonb, $2, u.line, $3
    FROM upload_rows u
    ORDER BY u.line
    ON CONFLICT (campaign_id, phone_e164) DO NOTHING
    RETURNING 1
)
SELECT count(*)::integer FROM ins
