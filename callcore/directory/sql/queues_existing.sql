SELECT name FROM queues WHERE name = ANY($1::text[])
