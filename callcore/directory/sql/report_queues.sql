-- Per-queue figures of [$1, $2); $3: only this queue (NULL: all); $4: service level threshold in seconds
-- (NULL: each queue's own, 20 s for queues not in the directory). Same definitions as callcore.directory.stats.
WITH ev AS (
    SELECT id, ts, type, call_id, agent_id, queue, payload
      FROM events
     WHERE ts >= $1 AND ts < $2
       AND (type LIKE 'call.%' OR type = 'agent.state')
), per_call AS (
    SELECT e.queue, e.type,
           -- a caller who entered while no instance was running is offered when adopted
           e.type = 'call.readopted' AND NOT EXISTS (
               SELECT 1 FROM ev q WHERE q.call_id = e.call_id AND q.type IN ('call.queued', 'call.readopted')
                  AND (q.ts, q.id) < (e.ts, e.id)) AS adopted_unqueued,
           CASE WHEN jsonb_typeof(e.payload->'wait') = 'number' THEN (e.payload->>'wait')::float8 END AS wait,
           CASE WHEN jsonb_typeof(e.payload->'talk') = 'number' THEN (e.payload->>'talk')::float8 END AS talk,
           COALESCE($4::float8, q.service_level_threshold, 20.0) AS threshold
      FROM ev e
      LEFT JOIN queues q ON q.name = e.queue
     WHERE e.type LIKE 'call.%' AND e.queue IS NOT NULL AND ($3::text IS NULL OR e.queue = $3)
), figures AS (
    SELECT queue, max(threshold) AS threshold,
           count(*) FILTER (WHERE type = 'call.queued' OR adopted_unqueued) AS offered,
           count(*) FILTER (WHERE type = 'call.answered') AS answered,
           count(*) FILTER (WHERE type = 'call.abandoned') AS abandoned,
           count(*) FILTER (WHERE type = 'call.overflowed') AS overflowed,
           count(*) FILTER (WHERE type = 'call.callback') AS callbacks,
           count(*) FILTER (WHERE type = 'call.transferred') AS transferred,
           count(*) FILTER (WHERE type = 'call.refused') AS refused,
           count(*) FILTER (WHERE type = 'call.answered' AND COALESCE(wait, 0) <= threshold) AS answered_within_sl,
           count(*) FILTER (WHERE type = 'call.abandoned' AND COALESCE(wait, 0) > threshold) AS abandoned_after_sl,
           COALESCE(sum(wait) FILTER (WHERE type = 'call.answered'), 0) AS wait_total,
           COALESCE(sum(talk) FILTER (WHERE type = 'call.ended'), 0) AS talk_total,
           count(talk) FILTER (WHERE type = 'call.ended') AS talks,
           COALESCE(sum(wait) FILTER (WHERE type = 'call.abandoned'), 0) AS abandon_wait_total
      FROM per_call
     GROUP BY queue
), states AS (
    SELECT agent_id, queue, ts, payload->>'to' AS to_state,
           lead(ts) OVER w AS next_ts, lead(payload->>'from') OVER w AS next_from
      FROM ev
     WHERE type = 'agent.state' AND agent_id IS NOT NULL
    WINDOW w AS (PARTITION BY agent_id ORDER BY ts, id)
), wrapups AS (
    SELECT queue, sum(GREATEST(0, extract(epoch FROM next_ts - ts))) AS wrapup_total, count(*) AS wrapups
      FROM states
     WHERE to_state = 'wrap_up' AND next_from = 'wrap_up' AND queue IS NOT NULL
       AND ($3::text IS NULL OR queue = $3)
     GROUP BY queue
)
SELECT COALESCE(f.queue, w.queue) AS queue,
       COALESCE(f.threshold, $4::float8, q.service_level_threshold, 20.0) AS threshold,
       COALESCE(f.offered, 0) AS offered, COALESCE(f.answered, 0) AS answered,
       COALESCE(f.abandoned, 0) AS abandoned, COALESCE(f.overflowed, 0) AS overflowed,
       COALESCE(f.callbacks, 0) AS callbacks, COALESCE(f.transferred, 0) AS transferred,
       COALESCE(f.refused, 0) AS refused, COALESCE(f.answered_within_sl, 0) AS answered_within_sl,
       COALESCE(f.abandoned_after_sl, 0) AS abandoned_after_sl,
       COALESCE(f.wait_total, 0) AS wait_total, COALESCE(f.talk_total, 0) AS talk_total,
       COALESCE(f.talks, 0) AS talks, COALESCE(w.wrapup_total, 0)::float8 AS wrapup_total,
       COALESCE(w.wrapups, 0) AS wrapups, COALESCE(f.abandon_wait_total, 0) AS abandon_wait_total
  FROM figures f
  FULL JOIN wrapups w ON w.queue = f.queue
  LEFT JOIN queues q ON q.name = COALESCE(f.queue, w.queue)
 ORDER BY 1
