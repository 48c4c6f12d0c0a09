-- Move the lines whose number is on the do-not-call list to upload_rejects.
WITH d AS (
    DELETE FROM upload_rows u
    USING dnc
    WHERE dnc.phone_e164 = u.phone_e164
    RETURNING u.line, u.phone_e164, dnc.source
)
INSERT INTO upload_rejects (line, reason, phone_e164, detail)
SELECT line, 'dnc', phone_e164, format('%s is on the do-not-call list (%s)', phone_e164, source)
FROM d
