-- $1 did, $2 queue, $3 priority, $4 language, $5 after_hours_queue, $6 note. Replaces the whole route.
INSERT INTO did_routes (did, queue, priority, language, after_hours_queue, note)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (did) DO UPDATE
SET queue = EXCLUDED.queue, priority = EXCLUDED.priority, language = EXCLUDED.language,
    after_hours_queue = EXCLUDED.after_hours_queue, note = EXCLUDED.note
RETURNING (xmax = 0) AS inserted
