-- $1 day, $2 queue (NULL: the holiday of every queue).
DELETE FROM holidays
WHERE day = $1 AND queue IS NOT DISTINCT FROM $2::text
RETURNING id
