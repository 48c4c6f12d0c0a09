-- Call records of instance $1 entered since $2 and still open (no end), with what the journal knows of
-- their end: the ACD's own end event, else the destruction of the caller's channel as seen on ARI.
SELECT c.call_id, c.channel_id, c.answered_at IS NOT NULL AS answered,
       ended.ts AS acd_end, ended.type AS acd_end_type,
       (SELECT extract(epoch FROM min(d.ts))::float8
          FROM events d
         WHERE d.channel_id = c.channel_id AND d.type = 'ari.ChannelDestroyed' AND d.ts >= c.entered_at) AS destroyed
  FROM calls c
  LEFT JOIN LATERAL (
        SELECT extract(epoch FROM e.ts)::float8 AS ts, e.type
          FROM events e
         WHERE e.call_id = c.call_id
           AND e.type IN ('call.ended', 'call.abandoned', 'call.overflowed', 'call.callback', 'call.refused',
                          'call.transferred', 'call.closed')
         ORDER BY e.ts DESC
         LIMIT 1) ended ON TRUE
 WHERE c.ended_at IS NULL AND c.entered_at >= $2
   AND EXISTS (SELECT 1 FROM events q
                WHERE q.call_id = c.call_id AND q.instance = $1 AND q.type IN ('call.queued', 'call.readopted'))
