-- The caller's number and queue of ACD call $1: from the calls table, else from the journal.
SELECT coalesce(
           (SELECT nullif(caller_number, '') FROM calls WHERE call_id = $1),
           (SELECT nullif(payload->>'caller_number', '') FROM events
            WHERE call_id = $1 AND type = 'call.queued' ORDER BY id LIMIT 1)) AS caller_number,
       coalesce(
           (SELECT queue FROM calls WHERE call_id = $1),
           (SELECT queue FROM events WHERE call_id = $1 AND type = 'call.queued' ORDER BY id LIMIT 1))
           AS queue
