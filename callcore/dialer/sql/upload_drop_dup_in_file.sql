-- Move the lines whose number already appeared on an earlier line of the same file to upload_rejects.
-- Hash-aggregate the repeated numbers first: usually few, so the join back stays small.
WITH d AS (
    DELETE FROM upload_rows u
    USING (SELECT phone_e164, min(line) AS first_line
           FROM upload_rows GROUP BY phone_e164 HAVING count(*) > 1) f
    WHERE u.phone_e164 = f.phone_e164 AND u.line <> f.first_line
    RETURNING u.line, u.phone_e164, f.first_line
)
INSERT INTO upload_rejects (line, reason, phone_e164, detail)
SELECT line, 'duplicate-in-file', phone_e164, format('%s is a duplicate of line %s', phone_e164, first_line)
FROM d
