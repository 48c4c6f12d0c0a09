-- A waiting caller pressed the callback key: keep the request (and the caller's place) for the dialer.
INSERT INTO callbacks (caller_number, queue, agent_id, due_at, note)
VALUES ($1, $2, $3, $4, $5)
RETURNING id
