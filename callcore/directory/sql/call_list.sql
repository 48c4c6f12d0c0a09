SELECT call_id, queue, channel_id, caller_number, caller_name, entered_at, answered_at, ended_at, agent_id,
       outcome, recording_name, disposition_code, disposition_notes, callback_at
  FROM calls
 WHERE entered_at >= $1 AND entered_at < $2
   AND ($3::text IS NULL OR queue = $3)
   AND ($4::text IS NULL OR outcome = $4)
 ORDER BY entered_at, call_id
 LIMIT $5
