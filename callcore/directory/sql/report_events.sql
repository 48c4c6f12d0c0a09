SELECT extract(epoch FROM ts)::float8 AS ts, type, call_id, channel_id, agent_id, queue, payload::text AS payload
  FROM events
 WHERE ts >= $1 AND ts < $2
   AND (type LIKE 'call.%' OR type IN ('agent.state', 'service.started'))
 ORDER BY ts, id
