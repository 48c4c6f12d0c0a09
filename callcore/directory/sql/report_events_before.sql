-- Call events of the day before a window, replayed silently (no lines written) when some call is still open
-- in the window: the lines of a call straddling --since (CONNECT, COMPLETE..., ABANDON) keep their context
-- (entry time, ring start) and the positions of the callers waiting then stay what they were.
SELECT extract(epoch FROM e.ts)::float8 AS ts, e.type, e.call_id, e.channel_id, e.agent_id, e.queue,
       e.payload::text AS payload
  FROM events e
 WHERE e.ts >= $1::timestamptz - interval '1 day' AND e.ts < $1 AND e.type LIKE 'call.%'
   AND EXISTS (SELECT 1 FROM events w
                WHERE w.ts >= $1 AND w.ts < $2 AND w.type LIKE 'call.%' AND w.type <> 'call.queued')
 ORDER BY e.ts, e.id
