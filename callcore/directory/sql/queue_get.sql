SELECT name, strategy, moh_class, announce_position_interval, periodic_announce, periodic_announce_interval,
       max_wait, overflow_target, join_empty, leave_empty, max_len, callback_digit, wrapup_time, ring_timeout,
       max_no_answer, service_level_threshold, recording, script, disposition_codes::text AS disposition_codes,
       skill_requirements::text AS skill_requirements, skill_relaxation::text AS skill_relaxation, weight
  FROM queues
 WHERE name = $1
