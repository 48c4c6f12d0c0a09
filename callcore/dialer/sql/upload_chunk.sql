-- One chunk of cleaned rows (upload_rows, in file order) into the campaign of upload_params.
-- Sent as one script, so PostgreSQL works through it while the client cleans the next chunk.
-- The rows are unique within the file (duplicates are rejected while cleaning). A rejected line moves to
-- upload_rejects with the first reason that applies: on the do-not-call list, already a lead of the
-- campaign.

WITH d AS (
    DELETE FROM upload_rows u
    USING dnc
    WHERE dnc.phone_e164 = u.phone_e164
    RETURNING u.line, u.phone_e164, dnc.source
)
INSERT INTO upload_rejects (line, reason, phone_e164, detail)
SELECT line, 'dnc', phone_e164, format('%s is on the do-not-call list (%s)', phone_e164, source)
FROM d;

-- Time-zone sets new to this upload: the id of a known set, else a new zone_sets row. Sets new to
-- zone_sets are added by one upload at a time (transaction advisory lock, key 'zonesets' in ASCII): two
-- uploads each adding a set the other one needs next would otherwise wait for each other.
INSERT INTO upload_zones (key)
SELECT DISTINCT u.zones FROM upload_rows u
WHERE NOT EXISTS (SELECT 1 FROM upload_zones k WHERE k.key = u.zones);
UPDATE upload_zones k SET id = z.id
FROM zone_sets z WHERE k.id IS NULL AND z.zones = string_to_array(k.key, '|');
SELECT pg_advisory_xact_lock(8822391577048872051) WHERE EXISTS (SELECT 1 FROM upload_zones WHERE id IS NULL);
INSERT INTO zone_sets (zones)
SELECT string_to_array(key, '|') FROM upload_zones WHERE id IS NULL
ON CONFLICT (zones) DO NOTHING;
UPDATE upload_zones k SET id = z.id
FROM zone_sets z WHERE k.id IS NULL AND z.zones = string_to_array(k.key, '|');

-- The rows left are not on the DNC list. Lead ids follow the line order (claiming order). A number the
-- campaign already has is skipped by ON CONFLICT: no earlier line of the file has it, so each skipped
-- line is a duplicate of a lead from before (or of a concurrent upload, whose row this statement's
-- snapshot does not show).
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
