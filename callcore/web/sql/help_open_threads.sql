SELECT r.id, r.agent_id, r.call_id, r.text, r.created_at, r.answered_by, r.answer_note, r.answered_at,
       coalesce(m.n, 0) AS messages, m.last_role, m.last_at
  FROM help_requests r
  LEFT JOIN LATERAL (
        SELECT count(*) AS n, (array_agg(role ORDER BY id DESC))[1] AS last_role, max(created_at) AS last_at
          FROM help_messages WHERE request_id = r.id) m ON true
 WHERE r.answered_at IS NULL AND ($1::text IS NULL OR r.agent_id = $1)
 ORDER BY r.id DESC LIMIT $2
