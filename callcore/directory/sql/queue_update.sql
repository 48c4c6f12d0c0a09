UPDATE queues
   SET strategy = $2, weight = $3, moh_class = $4, announce_position_every = $5, announce_holdtime = $6,
       max_wait = $7, overflow = $8, join_empty = $9, leave_empty = $10, max_len = $11, callback_digit = $12,
       wrapup_time = $13, ring_timeout = $14, max_no_answer = $15, service_level_threshold = $16,
       recording = $17, script = $18, dispositions = $19::text::jsonb, skills = $20::text::jsonb,
       voicemail_context = $21, transfer_context = $22, updated_at = now()
 WHERE name = $1
RETURNING name
