-- Preview mode: the operator chose lead $1; claim it for instance $3 at $2 unless someone else has it.
UPDATE leads l
SET state = 'dialing', claimed_by = $3, claimed_at = $2
FROM (SELECT id, state AS prev_state FROM leads WHERE id = $1 FOR UPDATE SKIP LOCKED) picked
WHERE l.id = picked.id AND picked.prev_state IN ('new', 'scheduled', 'callback')
RETURNING l.id, l.campaign_id, l.phone_e164, l.name,
          coalesce((SELECT z.zones FROM zone_sets z WHERE z.id = l.zone_set), l.tz) AS tz,
          l.data::text AS data, picked.prev_state,
          l.attempts, l.next_attempt_at, l.last_outcome, l.last_abandoned_at, l.callback_agent
