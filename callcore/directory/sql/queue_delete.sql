DELETE FROM queues WHERE name = $1 RETURNING name
