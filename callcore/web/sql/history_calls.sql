SELECT call_id, queue, entered_at, answered_at, ended_at, agent_id, outcome, disposition_code, disposition_notes
  FROM calls
 WHERE caller_number = $1 AND ($2::text IS NULL OR call_id <> $2)
 ORDER BY entered_at DESC LIMIT $3
