UPDATE queues
   SET strategy = $2, moh_class = $3, announce_position_interval = $4, periodic_announce = $5,
       periodic_announce_interval = $6, max_wait = $7, overflow_target = $8, join_empty = $9,
       leave_empty = $10, max_len = $11, callback_digit = $12, wrapup_time = $13, ring_timeout = $14,
       max_no_answer = $15, service_level_threshold = $16, recording = $17, script = $18,
       disposition_codes = $19::jsonb, skill_requirements = $20::jsonb, skill_relaxation = $21::jsonb,
       weight = $22, updated_at = now()
 WHERE name = $1
RETURNING name
