-- Lead $1 becomes agent $3's personal callback at $2 (the dial loop and preview honour callback_agent).
-- Not while an instance is dialling it: the attempt's own result is written first.
UPDATE leads SET state = 'callback', next_attempt_at = $2, callback_agent = $3, final_reason = NULL
WHERE id = $1 AND state <> 'dialing'
RETURNING id
