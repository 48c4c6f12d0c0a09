-- Call and agent-state events after a position (ts, id), for the live queue_log writer.
SELECT id, extract(epoch FROM ts)::float8 AS ts, ts AS ts_raw, type, instance, call_id, channel_id, agent_id, queue,
       payload::text AS payload
  FROM events
 WHERE (ts, id) > ($1::timestamptz, $2::bigint)
   AND (type LIKE 'call.%' OR type IN ('agent.state', 'service.started'))
 ORDER BY ts, id
 LIMIT 5000
