-- Per-connection staging table for journal batches (COPY target); emptied at every commit.
CREATE TEMP TABLE IF NOT EXISTS callcore_journal_staging (
    event_key   uuid   NOT NULL,
    ts          float8 NOT NULL,
    type        text   NOT NULL,
    instance    text   NOT NULL,
    call_id     text,
    channel_id  text,
    agent_id    text,
    queue       text,
    campaign_id text,
    payload     text   NOT NULL
) ON COMMIT DELETE ROWS
