-- $1 number, $2 priority, $3 name.
INSERT INTO vip_callers (number, priority, name)
VALUES ($1, $2, $3)
ON CONFLICT (number) DO UPDATE
SET priority = EXCLUDED.priority, name = EXCLUDED.name
RETURNING (xmax = 0) AS inserted
