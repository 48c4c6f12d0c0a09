INSERT INTO calls (call_id, queue, channel_id, caller_number, caller_name, entered_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (call_id) DO UPDATE
   SET queue = EXCLUDED.queue, channel_id = COALESCE(EXCLUDED.channel_id, calls.channel_id)
