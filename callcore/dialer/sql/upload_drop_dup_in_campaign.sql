-- Remove (and return) the lines whose number the campaign $1 already has as a lead.
DELETE FROM upload_rows u
USING leads l
WHERE l.campaign_id = $1 AND l.phone_e164 = u.phone_e164
RETURNING u.line, u.phone_e164, l.source_line, l.source_file
