-- $1: caller number (E.164 when it could be normalised), $2: queue, $3: due time, $4: note.
-- A number that already waits for a callback on the queue gets no second one (no row returned).
INSERT INTO callbacks (caller_number, queue, due_at, note)
SELECT $1, $2, $3, $4
WHERE NOT EXISTS (
    SELECT 1 FROM callbacks
    WHERE caller_number = $1 AND queue = $2 AND state IN ('pending', 'claimed')
)
RETURNING id
