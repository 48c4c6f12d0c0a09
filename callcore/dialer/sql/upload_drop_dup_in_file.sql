-- Remove (and return) the lines whose number already appeared on an earlier line of the same file.
DELETE FROM upload_rows u
USING (SELECT line, first_line
       FROM (SELECT line, min(line) OVER (PARTITION BY phone_e164) AS first_line FROM upload_rows) w
       WHERE line <> first_line) d
WHERE u.line = d.line
RETURNING u.line, u.phone_e164, d.first_line
