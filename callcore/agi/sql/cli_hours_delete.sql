-- $1 queue, $2 weekdays (0 = Monday).
DELETE FROM business_hours
WHERE queue = $1 AND weekday = ANY($2::smallint[])
RETURNING weekday
