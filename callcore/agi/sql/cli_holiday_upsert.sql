-- $1 day, $2 queue (NULL: every queue), $3 name.
INSERT INTO holidays (day, queue, name)
VALUES ($1, $2, $3)
ON CONFLICT (day, (coalesce(queue, ''))) DO UPDATE
SET name = EXCLUDED.name
RETURNING (xmax = 0) AS inserted
