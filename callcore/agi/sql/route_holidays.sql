-- $1: a UTC date, $2: queue. One day either side covers every time zone.
SELECT day, queue, name
FROM holidays
WHERE day BETWEEN $1::date - 1 AND $1::date + 1
  AND (queue IS NULL OR queue = $2)
