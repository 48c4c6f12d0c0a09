-- The event journal: append-only, one row per domain event, written by callcore.store.journal.
-- event_key is assigned when the event is produced; replays after an outage insert each event once.

CREATE TABLE events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_key   uuid        NOT NULL,
    ts          timestamptz NOT NULL,
    type        text        NOT NULL,
    instance    text        NOT NULL,
    call_id     text,
    channel_id  text,
    agent_id    text,
    queue       text,
    campaign_id text,
    payload     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT events_event_key_key UNIQUE (event_key)
);

-- Rows arrive in (nearly) ts order, so a BRIN index covers time-range scans at a tiny size.
CREATE INDEX events_ts_brin ON events USING brin (ts) WITH (pages_per_range = 32);
CREATE INDEX events_queue_ts ON events (queue, ts) WHERE queue IS NOT NULL;
CREATE INDEX events_agent_ts ON events (agent_id, ts) WHERE agent_id IS NOT NULL;
CREATE INDEX events_campaign_ts ON events (campaign_id, ts) WHERE campaign_id IS NOT NULL;
CREATE INDEX events_call_id ON events (call_id) WHERE call_id IS NOT NULL;

COMMENT ON TABLE events IS 'Append-only journal of every callcore event (see callcore.store.journal).';
