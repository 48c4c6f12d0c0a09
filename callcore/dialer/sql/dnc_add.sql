-- $1 numbers (E.164), $2 source, $3 note. Returns the numbers that were not on the list yet.
INSERT INTO dnc (phone_e164, source, note)
SELECT n, $2, $3 FROM unnest($1::text[]) AS n
ON CONFLICT (phone_e164) DO NOTHING
RETURNING phone_e164
