-- Move a staged batch into the journal; events already there (replays) are skipped.
INSERT INTO events (event_key, ts, type, instance, call_id, channel_id, agent_id, queue, campaign_id, payload)
SELECT event_key, to_timestamp(ts), type, instance, call_id, channel_id, agent_id, queue, campaign_id,
       payload::jsonb
FROM callcore_journal_staging
ON CONFLICT (event_key) DO NOTHING
