-- $1: queue.
SELECT weekday, open_at, close_at, tz
FROM business_hours
WHERE queue = $1
ORDER BY weekday, open_at
