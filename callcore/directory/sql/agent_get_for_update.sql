SELECT a.id, a.name, a.endpoint, a.skills::text AS skills,
       COALESCE((SELECT jsonb_object_agg(m.queue, m.penalty) FROM memberships m WHERE m.agent_id = a.id),
                '{}'::jsonb)::text AS memberships
  FROM agents a
 WHERE a.id = $1
   FOR UPDATE OF a
