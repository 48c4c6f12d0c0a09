-- Remove (and return) the lines whose number already appeared on an earlier line of the same file.
-- Hash-aggregate the repeated numbers first: usually few, so the join back stays small.
DELETE FROM upload_rows u
USING (SELECT phone_e164, min(line) AS first_line
       FROM upload_rows GROUP BY phone_e164 HAVING count(*) > 1) d
WHERE u.phone_e164 = d.phone_e164 AND u.line <> d.first_line
RETURNING u.line, u.phone_e164, d.first_line
