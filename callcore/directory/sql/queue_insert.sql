INSERT INTO queues (name, strategy, weight, moh_class, announce_position_every, announce_holdtime, max_wait,
                    overflow, join_empty, leave_empty, max_len, callback_digit, wrapup_time, ring_timeout,
                    max_no_answer, service_level_threshold, recording, script, dispositions, skills,
                    voicemail_context, transfer_context)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19::text::jsonb, $20::text::jsonb, $21, $22)
ON CONFLICT (name) DO NOTHING
RETURNING name
