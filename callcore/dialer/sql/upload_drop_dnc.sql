-- Remove (and return) the lines whose number is on the do-not-call list.
DELETE FROM upload_rows u
USING dnc d
WHERE d.phone_e164 = u.phone_e164
RETURNING u.line, u.phone_e164, d.source
