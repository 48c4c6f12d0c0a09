SELECT call_id, queue, channel_id, caller_number, caller_name, entered_at, answered_at, ended_at, agent_id,
       outcome, recording_name, disposition_code, disposition_notes, callback_at
  FROM calls
 WHERE call_id = $1
