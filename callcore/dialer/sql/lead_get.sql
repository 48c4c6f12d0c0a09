SELECT id, campaign_id, phone_e164, name, tz, data::text AS data, state AS prev_state, attempts,
       next_attempt_at, last_outcome, last_abandoned_at, callback_agent, claimed_by
FROM leads WHERE id = $1
