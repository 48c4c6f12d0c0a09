-- $1 queue, $2 weekdays about to be replaced: the time zones of the queue's other windows.
SELECT DISTINCT tz
FROM business_hours
WHERE queue = $1 AND NOT (weekday = ANY($2::smallint[]))
ORDER BY tz
