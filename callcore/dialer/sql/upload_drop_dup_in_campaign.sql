-- Move the lines whose number the campaign $1 already has as a lead to upload_rejects.
WITH d AS (
    DELETE FROM upload_rows u
    USING leads l
    WHERE l.campaign_id = $1 AND l.phone_e164 = u.phone_e164
    RETURNING u.line, u.phone_e164, l.source_line, l.source_file
)
INSERT INTO upload_rejects (line, reason, phone_e164, detail)
SELECT line, 'duplicate-in-campaign', phone_e164,
       format('%s is already a lead of the campaign (%s)', phone_e164,
              CASE WHEN source_file IS NULL THEN 'added earlier'
                   ELSE format('line %s of %s', source_line, source_file) END)
FROM d
