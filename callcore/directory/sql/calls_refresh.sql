-- Rebuild call records from the journal for every call with an event at or after $1 (all calls when NULL).
WITH touched AS (
    SELECT DISTINCT call_id
      FROM events
     WHERE call_id IS NOT NULL AND type LIKE 'call.%' AND ($1::timestamptz IS NULL OR ts >= $1)
), agg AS (
    SELECT e.call_id,
           (array_agg(e.queue ORDER BY e.ts DESC) FILTER (WHERE e.type = 'call.queued'))[1] AS queue,
           (array_agg(e.channel_id ORDER BY e.ts) FILTER (WHERE e.channel_id IS NOT NULL))[1] AS channel_id,
           (array_agg(e.payload->>'caller_number' ORDER BY e.ts)
                FILTER (WHERE e.type = 'call.queued' AND e.payload ? 'caller_number'))[1] AS caller_number,
           (array_agg(e.payload->>'caller_name' ORDER BY e.ts)
                FILTER (WHERE e.type = 'call.queued' AND e.payload ? 'caller_name'))[1] AS caller_name,
           min(e.ts) FILTER (WHERE e.type = 'call.queued') AS entered_at,
           min(e.ts) FILTER (WHERE e.type = 'call.answered') AS answered_at,
           -- a call found gone after an outage carries the time it was last known alive (payload ended_at)
           max(CASE WHEN jsonb_typeof(e.payload->'ended_at') = 'number'
                    THEN to_timestamp((e.payload->>'ended_at')::float8) ELSE e.ts END)
               FILTER (WHERE e.type IN ('call.ended', 'call.abandoned', 'call.overflowed', 'call.callback',
                                        'call.refused', 'call.closed')) AS ended_at,
           (array_agg(e.agent_id ORDER BY e.ts DESC) FILTER (WHERE e.type = 'call.answered'))[1] AS agent_id,
           CASE WHEN bool_or(e.type = 'call.ended') THEN 'answered'
                WHEN bool_or(e.type = 'call.abandoned') THEN 'abandoned'
                WHEN bool_or(e.type = 'call.callback') THEN 'callback'
                WHEN bool_or(e.type = 'call.overflowed') THEN 'overflowed'
                WHEN bool_or(e.type = 'call.refused') THEN 'refused'
                WHEN bool_or(e.type = 'call.closed')
                     THEN (array_agg(e.payload->>'outcome' ORDER BY e.ts DESC) FILTER (WHERE e.type = 'call.closed'))[1]
           END AS outcome,
           (array_agg(e.payload->>'recording' ORDER BY e.ts DESC)
                FILTER (WHERE e.type = 'call.answered' AND e.payload->>'recording' IS NOT NULL))[1] AS recording_name,
           (array_agg(e.payload ORDER BY e.ts DESC) FILTER (WHERE e.type = 'call.disposition'))[1] AS disposition
      FROM events e
      JOIN touched t USING (call_id)
     WHERE e.type LIKE 'call.%'
     GROUP BY e.call_id
)
INSERT INTO calls AS c (call_id, queue, channel_id, caller_number, caller_name, entered_at, answered_at, ended_at,
                        agent_id, outcome, recording_name, disposition_code, disposition_notes, callback_at)
SELECT call_id, queue, channel_id, COALESCE(caller_number, ''), COALESCE(caller_name, ''), entered_at,
       answered_at, ended_at, agent_id, outcome, recording_name, disposition->>'code', disposition->>'notes',
       CASE WHEN jsonb_typeof(disposition->'callback_at') = 'number'
            THEN to_timestamp((disposition->>'callback_at')::float8) END
  FROM agg
 WHERE entered_at IS NOT NULL
ON CONFLICT (call_id) DO UPDATE
   SET queue = EXCLUDED.queue, channel_id = EXCLUDED.channel_id, caller_number = EXCLUDED.caller_number,
       caller_name = EXCLUDED.caller_name, entered_at = EXCLUDED.entered_at, answered_at = EXCLUDED.answered_at,
       ended_at = EXCLUDED.ended_at, agent_id = EXCLUDED.agent_id, outcome = EXCLUDED.outcome,
       recording_name = COALESCE(EXCLUDED.recording_name, c.recording_name),
       disposition_code = COALESCE(EXCLUDED.disposition_code, c.disposition_code),
       disposition_notes = COALESCE(EXCLUDED.disposition_notes, c.disposition_notes),
       callback_at = COALESCE(EXCLUDED.callback_at, c.callback_at)
