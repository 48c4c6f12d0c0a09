-- $1: candidate forms of the dialled number. The longest matching DID wins.
SELECT did, queue, priority, language, after_hours_queue
FROM did_routes
WHERE did = ANY($1::text[])
ORDER BY length(did) DESC, did
LIMIT 1
