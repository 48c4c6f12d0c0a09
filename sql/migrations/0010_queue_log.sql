-- Asterisk queue_log lines as a table, for queue-statistics tools that read one (QueueMetrics): the columns
-- of Asterisk's realtime queue_log (time, callid, queuename, agent, event, data1..data5) plus QueueMetrics's
-- partition and server id. Written by `callcore report queue-log --follow --table` from the journal; each
-- line remembers the event it came from, so a restarted writer neither loses nor repeats a line.
CREATE TABLE IF NOT EXISTS queue_log (
    id            bigserial PRIMARY KEY,
    time          timestamptz NOT NULL,
    callid        text NOT NULL DEFAULT 'NONE',
    queuename     text NOT NULL DEFAULT 'NONE',
    agent         text NOT NULL DEFAULT 'NONE',
    event         text NOT NULL,
    data1         text NOT NULL DEFAULT '',
    data2         text NOT NULL DEFAULT '',
    data3         text NOT NULL DEFAULT '',
    data4         text NOT NULL DEFAULT '',
    data5         text NOT NULL DEFAULT '',
    partition     text NOT NULL DEFAULT 'P001',
    serverid      text NOT NULL DEFAULT '',
    source_ts     timestamptz NOT NULL,    -- events.ts of the event the line came from
    source_event  bigint NOT NULL,         -- events.id
    source_seq    smallint NOT NULL,       -- its n-th line
    UNIQUE (partition, source_event, source_seq)
);
CREATE INDEX IF NOT EXISTS queue_log_time_idx ON queue_log (partition, time);
