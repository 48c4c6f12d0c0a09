-- Every reference to a queue that does not exist: (kind, owner, missing queue).
SELECT 'queue overflow' AS kind, q.name AS owner, substr(q.overflow, 7) AS missing
  FROM queues q
 WHERE q.overflow LIKE 'queue:%' AND NOT EXISTS (SELECT 1 FROM queues t WHERE t.name = substr(q.overflow, 7))
UNION ALL
SELECT 'campaign', c.name, c.queue
  FROM campaigns c
 WHERE c.queue <> '' AND c.state <> 'stopped' AND NOT EXISTS (SELECT 1 FROM queues t WHERE t.name = c.queue)
UNION ALL
SELECT 'DID route', d.did, d.queue
  FROM did_routes d
 WHERE NOT EXISTS (SELECT 1 FROM queues t WHERE t.name = d.queue)
UNION ALL
SELECT 'DID after-hours route', d.did, d.after_hours_queue
  FROM did_routes d
 WHERE coalesce(d.after_hours_queue, '') <> ''
   AND NOT EXISTS (SELECT 1 FROM queues t WHERE t.name = d.after_hours_queue)
ORDER BY 1, 2
