SELECT id, campaign_id, phone_e164, name,
       coalesce((SELECT z.zones FROM zone_sets z WHERE z.id = l.zone_set), l.tz) AS tz, data::text AS data,
       state AS prev_state, attempts, next_attempt_at, last_outcome, last_abandoned_at, callback_agent,
       claimed_by
FROM leads l WHERE id = $1
