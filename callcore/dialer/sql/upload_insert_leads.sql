-- $1 campaign id, $2 source file name, $3 upload id. The rows left in upload_rows are unique, not on
-- the DNC list and new to the campaign; ON CONFLICT covers a concurrent upload of the same numbers.
WITH ins AS (
    INSERT INTO leads (campaign_id, phone_e164, name, zone_set, data, source_file, source_line, upload_id)
    SELECT $1, u.phone_e164, u.name, k.id, u.data, $2, u.line, $3
    FROM upload_rows u JOIN upload_zones k ON k.key = u.zones
    ORDER BY u.line
    ON CONFLICT (campaign_id, phone_e164) DO NOTHING
    RETURNING 1
)
SELECT count(*)::integer FROM ins
