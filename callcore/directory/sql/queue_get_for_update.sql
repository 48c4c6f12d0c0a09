SELECT name, strategy, weight, moh_class, announce_position_every, announce_holdtime, max_wait,
       overflow, join_empty, leave_empty, max_len, callback_digit, wrapup_time, ring_timeout, max_no_answer,
       service_level_threshold, recording, script, dispositions::text AS dispositions, skills::text AS skills,
       voicemail_context, transfer_context
  FROM queues
 WHERE name = $1
   FOR UPDATE
