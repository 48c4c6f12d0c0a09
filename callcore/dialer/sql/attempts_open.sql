-- Attempts instance $1 started and never closed (it stopped or died): with their lead, their campaign
-- and what the journal recorded for them (event types, the AMD verdict, the operator who took the call).
SELECT a.id AS attempt_id, a.started_at, a.answered_at, a.amd_status, a.agent_id, c.name AS campaign,
       l.id, l.campaign_id, l.phone_e164, l.name,
       coalesce((SELECT z.zones FROM zone_sets z WHERE z.id = l.zone_set), l.tz) AS tz, l.data::text AS data,
       CASE WHEN l.attempts = 0 THEN 'new' WHEN l.callback_agent IS NOT NULL THEN 'callback' ELSE 'scheduled' END
           AS prev_state,
       l.attempts, l.next_attempt_at, l.last_outcome, l.last_abandoned_at, l.callback_agent,
       coalesce((SELECT array_agg(DISTINCT e.type) FROM events e WHERE e.call_id = a.id), '{}') AS facts,
       (SELECT e.payload->>'amd' FROM events e WHERE e.call_id = a.id AND e.type = 'dialer.answered'
        LIMIT 1) AS journal_amd,
       (SELECT e.agent_id FROM events e WHERE e.call_id = a.id AND e.type IN ('dialer.connected', 'call.answered')
          AND e.agent_id IS NOT NULL LIMIT 1) AS journal_agent
FROM dial_attempts a
JOIN leads l ON l.id = a.lead_id
JOIN campaigns c ON c.id = a.campaign_id
WHERE a.ended_at IS NULL AND a.instance = $1
ORDER BY a.started_at
