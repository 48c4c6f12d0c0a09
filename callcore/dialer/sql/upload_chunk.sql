-- One chunk of cleaned rows (upload_rows, in file order) into the campaign of upload_params.
-- Sent as one script, so PostgreSQL works through it while the client cleans the next chunk.
-- A rejected line moves to upload_rejects with the first reason that applies, in this order: a duplicate
-- of an earlier line of the file, on the do-not-call list, already a lead of the campaign.

-- Numbers of earlier chunks.
WITH d AS (
    DELETE FROM upload_rows u
    USING upload_seen s
    WHERE s.phone_e164 = u.phone_e164
    RETURNING u.line, u.phone_e164, s.first_line
)
INSERT INTO upload_rejects (line, reason, phone_e164, detail)
SELECT line, 'duplicate-in-file', phone_e164, format('%s is a duplicate of line %s', phone_e164, first_line)
FROM d;

-- Numbers repeated within the chunk: hash-aggregate the repeated ones first (usually few).
WITH d AS (
    DELETE FROM upload_rows u
    USING (SELECT phone_e164, min(line) AS first_line
           FROM upload_rows GROUP BY phone_e164 HAVING count(*) > 1) f
    WHERE u.phone_e164 = f.phone_e164 AND u.line <> f.first_line
    RETURNING u.line, u.phone_e164, f.first_line
)
INSERT INTO upload_rejects (line, reason, phone_e164, detail)
SELECT line, 'duplicate-in-file', phone_e164, format('%s is a duplicate of line %s', phone_e164, first_line)
FROM d;

INSERT INTO upload_seen (phone_e164, first_line) SELECT phone_e164, line FROM upload_rows;

WITH d AS (
    DELETE FROM upload_rows u
    USING dnc
    WHERE dnc.phone_e164 = u.phone_e164
    RETURNING u.line, u.phone_e164, dnc.source
)
INSERT INTO upload_rejects (line, reason, phone_e164, detail)
SELECT line, 'dnc', phone_e164, format('%s is on the do-not-call list (%s)', phone_e164, source)
FROM d;

-- Time-zone sets new to this upload: registered in zone_sets (ON CONFLICT waits for a concurrent
-- upload adding the same set, then uses its row).
INSERT INTO upload_zones (key)
SELECT DISTINCT u.zones FROM upload_rows u
WHERE NOT EXISTS (SELECT 1 FROM upload_zones k WHERE k.key = u.zones);
INSERT INTO zone_sets (zones)
SELECT string_to_array(key, '|') FROM upload_zones WHERE id IS NULL
ON CONFLICT (zones) DO NOTHING;
UPDATE upload_zones k SET id = z.id
FROM zone_sets z WHERE k.id IS NULL AND z.zones = string_to_array(k.key, '|');

-- The rows left are unique within the file and not on the DNC list. Lead ids follow the line order
-- (claiming order). A number the campaign already has is skipped by ON CONFLICT: the lines this
-- upload's earlier chunks made leads of are gone already, so each skipped line is a duplicate of a lead
-- from before (or of a concurrent upload, whose row this statement's snapshot does not show).
WITH ins AS (
    INSERT INTO leads (campaign_id, phone_e164, name, zone_set, data, source_file, source_line, upload_id)
    SELECT (SELECT campaign_id FROM upload_params), u.phone_e164, u.name, k.id, u.data,
           (SELECT file_name FROM upload_params), u.line, (SELECT upload_id FROM upload_params)
    FROM upload_rows u JOIN upload_zones k ON k.key = u.zones
    ORDER BY u.line
    ON CONFLICT (campaign_id, phone_e164) DO NOTHING
    RETURNING source_line
), counted AS (
    UPDATE upload_params SET inserted = inserted + (SELECT count(*) FROM ins)
), skipped AS MATERIALIZED (
    SELECT u.line, u.phone_e164 FROM upload_rows u
    WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.source_line = u.line)
)
INSERT INTO upload_rejects (line, reason, phone_e164, detail)
SELECT s.line, 'duplicate-in-campaign', s.phone_e164,
       format('%s is already a lead of the campaign (%s)', s.phone_e164,
              CASE WHEN l.source_file IS NULL THEN 'added earlier'
                   ELSE format('line %s of %s', l.source_line, l.source_file) END)
FROM skipped s
LEFT JOIN LATERAL (
    SELECT source_line, source_file FROM leads
    WHERE leads.campaign_id = (SELECT campaign_id FROM upload_params) AND leads.phone_e164 = s.phone_e164
    LIMIT 1
) l ON true;

TRUNCATE upload_rows
