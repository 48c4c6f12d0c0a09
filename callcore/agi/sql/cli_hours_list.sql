-- $1: a queue, or NULL for every queue.
SELECT queue, weekday, open_at, close_at, tz
FROM business_hours
WHERE $1::text IS NULL OR queue = $1
ORDER BY queue, weekday, open_at
