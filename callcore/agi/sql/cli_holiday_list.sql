-- $1: a year, or NULL for every year.
SELECT day, queue, name
FROM holidays
WHERE $1::integer IS NULL OR extract(year FROM day) = $1::integer
ORDER BY day, queue NULLS FIRST
