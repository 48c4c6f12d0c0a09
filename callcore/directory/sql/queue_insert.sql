INSERT INTO queues (name, strategy, moh_class, announce_position_interval, periodic_announce,
                    periodic_announce_interval, max_wait, overflow_target, join_empty, leave_empty, max_len,
                    callback_digit, wrapup_time, ring_timeout, max_no_answer, service_level_threshold, recording,
                    script, disposition_codes, skill_requirements, skill_relaxation, weight)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19::jsonb, $20::jsonb, $21::jsonb, $22)
ON CONFLICT (name) DO NOTHING
RETURNING name
