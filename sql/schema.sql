-- The whole schema as it stands after every migration in sql/migrations/ (kept in step with them;
-- tests/test_store_schema.py checks that both produce the same catalog).

CREATE TABLE schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- ==== 0001_journal ====

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

-- ==== 0002_acd ====

-- ACD directory: queues, agents, skills, memberships, agent state, call records, tickets, help requests.
-- Changes to queues, agents and memberships raise NOTIFY callcore_config so running services reload.

CREATE TABLE IF NOT EXISTS queues (
    name                     text PRIMARY KEY,
    strategy                 text NOT NULL DEFAULT 'longest-idle',
    weight                   integer NOT NULL DEFAULT 0,
    moh_class                text NOT NULL DEFAULT 'default',
    announce_position_every  double precision NOT NULL DEFAULT 0 CHECK (announce_position_every >= 0),
    announce_holdtime        boolean NOT NULL DEFAULT false,
    max_wait                 double precision NOT NULL DEFAULT 0 CHECK (max_wait >= 0),
    overflow                 text,
    join_empty               text NOT NULL DEFAULT 'never',
    leave_empty              text NOT NULL DEFAULT 'never',
    max_len                  integer NOT NULL DEFAULT 0 CHECK (max_len >= 0),
    callback_digit           text NOT NULL DEFAULT '',
    wrapup_time              double precision NOT NULL DEFAULT 0 CHECK (wrapup_time >= 0),
    ring_timeout             double precision NOT NULL DEFAULT 15 CHECK (ring_timeout > 0),
    max_no_answer            integer NOT NULL DEFAULT 3 CHECK (max_no_answer >= 0),
    service_level_threshold  double precision NOT NULL DEFAULT 20 CHECK (service_level_threshold > 0),
    recording                text NOT NULL DEFAULT 'none',
    script                   text NOT NULL DEFAULT '',
    dispositions             jsonb NOT NULL DEFAULT '[]'::jsonb,
    skills                   jsonb NOT NULL DEFAULT '[]'::jsonb,
    voicemail_context        text NOT NULL DEFAULT 'callcore-voicemail',
    transfer_context         text NOT NULL DEFAULT 'callcore-transfer',
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN queues.overflow IS 'queue:<name> | dialplan:<context>,<exten>[,<priority>] | voicemail:<box>';
COMMENT ON COLUMN queues.skills IS '[{"skill", "min_level", "relax": [{"after": seconds, "level": n|null}]}]';

CREATE TABLE IF NOT EXISTS agents (
    id          text PRIMARY KEY,
    name        text NOT NULL DEFAULT '',
    endpoint    text NOT NULL DEFAULT '',
    skills      jsonb NOT NULL DEFAULT '{}'::jsonb,
    token_hash  text UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS memberships (
    agent_id  text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    queue     text NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    penalty   integer NOT NULL DEFAULT 0 CHECK (penalty >= 0),
    PRIMARY KEY (agent_id, queue)
);
CREATE INDEX IF NOT EXISTS memberships_queue_idx ON memberships (queue);

CREATE TABLE IF NOT EXISTS agent_state (
    agent_id      text PRIMARY KEY REFERENCES agents (id) ON DELETE CASCADE,
    state         text NOT NULL,
    pause_reason  text,
    since         timestamptz NOT NULL DEFAULT now(),
    instance      text NOT NULL DEFAULT ''   -- the instance the agent is logged in on (0007)
);

CREATE TABLE IF NOT EXISTS calls (
    call_id            text PRIMARY KEY,
    queue              text,
    channel_id         text,
    caller_number      text NOT NULL DEFAULT '',
    caller_name        text NOT NULL DEFAULT '',
    entered_at         timestamptz NOT NULL DEFAULT now(),
    answered_at        timestamptz,
    ended_at           timestamptz,
    agent_id           text,
    outcome            text,
    recording_name     text,
    disposition_code   text,
    disposition_notes  text,
    callback_at        timestamptz
);
CREATE INDEX IF NOT EXISTS calls_entered_idx ON calls (entered_at);
CREATE INDEX IF NOT EXISTS calls_queue_entered_idx ON calls (queue, entered_at);

CREATE TABLE IF NOT EXISTS tickets (
    id             bigserial PRIMARY KEY,
    call_id        text,
    agent_id       text NOT NULL,
    type           text NOT NULL CHECK (type IN ('complaint', 'claim', 'request')),
    text           text NOT NULL,
    caller_number  text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tickets_agent_idx ON tickets (agent_id, created_at);
CREATE INDEX IF NOT EXISTS tickets_call_idx ON tickets (call_id);

CREATE TABLE IF NOT EXISTS help_requests (
    id           bigserial PRIMARY KEY,
    agent_id     text NOT NULL,
    call_id      text,
    text         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    answered_by  text,
    answer_note  text,
    answered_at  timestamptz
);
CREATE INDEX IF NOT EXISTS help_requests_open_idx ON help_requests (created_at) WHERE answered_at IS NULL;

-- NOTIFY payloads: 'queue:<name>', 'agent:<id>', 'membership:<agent_id>:<queue>'.
CREATE OR REPLACE FUNCTION callcore_notify_config() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    rec record;
    what text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        rec := OLD;
    ELSE
        rec := NEW;
    END IF;
    IF TG_TABLE_NAME = 'queues' THEN
        what := 'queue:' || rec.name;
    ELSIF TG_TABLE_NAME = 'agents' THEN
        what := 'agent:' || rec.id;
    ELSE
        what := 'membership:' || rec.agent_id || ':' || rec.queue;
    END IF;
    PERFORM pg_notify('callcore_config', what);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS queues_notify_config ON queues;
CREATE TRIGGER queues_notify_config AFTER INSERT OR UPDATE OR DELETE ON queues
    FOR EACH ROW EXECUTE FUNCTION callcore_notify_config();
DROP TRIGGER IF EXISTS agents_notify_config ON agents;
CREATE TRIGGER agents_notify_config AFTER INSERT OR UPDATE OF name, endpoint, skills OR DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION callcore_notify_config();
DROP TRIGGER IF EXISTS memberships_notify_config ON memberships;
CREATE TRIGGER memberships_notify_config AFTER INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION callcore_notify_config();

-- ==== 0003_dialer ====

-- Outbound dialer: campaigns, leads, uploads, do-not-call list, dial attempts and callbacks.
-- Self-contained: agents and queues are referred to by their text ids, without foreign keys.

CREATE TABLE IF NOT EXISTS campaigns (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    mode        text NOT NULL,
    queue       text NOT NULL DEFAULT '',
    caller_id   text NOT NULL DEFAULT '',
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    state       text NOT NULL DEFAULT 'created'
                CHECK (state IN ('created', 'running', 'paused', 'stopped', 'archived')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    archived_at timestamptz     -- 0009: set when archived (never dialled again, history kept)
);

CREATE TABLE IF NOT EXISTS uploads (
    id            bigserial PRIMARY KEY,
    campaign_id   bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    file_name     text NOT NULL,
    sha256        text NOT NULL,
    encoding      text NOT NULL DEFAULT '',
    delimiter     text NOT NULL DEFAULT '',
    rows_total    integer NOT NULL DEFAULT 0,
    inserted      integer NOT NULL DEFAULT 0,
    rejected      integer NOT NULL DEFAULT 0,
    invalid       integer NOT NULL DEFAULT 0,
    dup_in_file   integer NOT NULL DEFAULT 0,
    dup_in_campaign integer NOT NULL DEFAULT 0,
    dnc           integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS uploads_campaign_sha_idx ON uploads (campaign_id, sha256);

-- Distinct time-zone sets of uploaded leads, each stored once: most leads of a file share a handful of
-- sets (a mobile number of a large country can be in any of a dozen zones). A lead's zones are
-- coalesce(zone_sets.zones, leads.tz).
CREATE TABLE IF NOT EXISTS zone_sets (
    id     serial PRIMARY KEY,
    zones  text[] NOT NULL UNIQUE
);

-- Phone numbers use the C collation: E.164 text is ASCII, so byte order is the same order, and the
-- unique index compares bytes instead of going through the locale (a bulk upload's biggest cost).
-- Lead states (callcore.dialer.campaign.LeadStatus): new, dialing (claimed by an instance), scheduled
-- (retry at next_attempt_at), callback (promised callback at next_attempt_at), done (final_reason says why).
CREATE TABLE IF NOT EXISTS leads (
    id               bigserial PRIMARY KEY,
    campaign_id      bigint NOT NULL,   -- campaigns.id; see leads_follow_campaign below
    phone_e164       text COLLATE "C" NOT NULL CHECK (phone_e164 ~ '^\+[1-9][0-9]{3,14}$'),
    name             text NOT NULL DEFAULT '',
    tz               text[] NOT NULL DEFAULT '{}',   -- time zones of a lead added on its own
    zone_set         integer,                         -- zone_sets.id: time zones of an uploaded lead
    data             jsonb NOT NULL DEFAULT '{}'::jsonb,
    state            text NOT NULL DEFAULT 'new'
                     CHECK (state IN ('new', 'dialing', 'scheduled', 'callback', 'done')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_outcome     text,
    last_attempt_at  timestamptz,
    last_abandoned_at timestamptz,
    final_reason     text,
    callback_agent   text,
    claimed_by       text,
    claimed_at       timestamptz,
    source_file      text,
    source_line      integer,
    upload_id        bigint,          -- uploads.id (no foreign key: keeps bulk loading fast)
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, phone_e164)
);
-- Claiming: leads waiting to be dialled, per campaign, in due order (file order within one upload).
CREATE INDEX IF NOT EXISTS leads_claim_idx ON leads (campaign_id, next_attempt_at, id)
    WHERE state IN ('new', 'scheduled', 'callback');
CREATE INDEX IF NOT EXISTS leads_dialing_idx ON leads (claimed_at) WHERE state = 'dialing';

-- leads.campaign_id has no foreign key: a per-row check costs a third of a bulk upload. Uploads lock the
-- campaign row (FOR KEY SHARE) instead, and deleting a campaign deletes its leads here.
CREATE OR REPLACE FUNCTION leads_follow_campaign() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM leads WHERE campaign_id = OLD.id;
    RETURN OLD;
END
$$;
CREATE TRIGGER campaigns_delete_leads BEFORE DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION leads_follow_campaign();

CREATE TABLE IF NOT EXISTS dnc (
    phone_e164  text COLLATE "C" PRIMARY KEY CHECK (phone_e164 ~ '^\+[1-9][0-9]{3,14}$'),
    source      text NOT NULL DEFAULT 'manual',
    added_at    timestamptz NOT NULL DEFAULT now(),
    note        text NOT NULL DEFAULT ''
);

-- One row per dial attempt; id is the attempt id, which is also the ARI channel id we originate with.
CREATE TABLE IF NOT EXISTS dial_attempts (
    id           text PRIMARY KEY,
    lead_id      bigint REFERENCES leads (id) ON DELETE SET NULL,
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    number       text NOT NULL,
    started_at   timestamptz NOT NULL,
    answered_at  timestamptz,
    ended_at     timestamptz,
    outcome      text,
    q850_cause   integer,
    amd_status   text,
    amd_cause    text,
    abandoned    boolean NOT NULL DEFAULT false,
    agent_id     text,
    channel_id   text,
    instance     text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS dial_attempts_campaign_idx ON dial_attempts (campaign_id, started_at);
CREATE INDEX IF NOT EXISTS dial_attempts_number_idx ON dial_attempts (number, started_at);
CREATE INDEX IF NOT EXISTS dial_attempts_lead_idx ON dial_attempts (lead_id);

-- Scheduled callbacks, from a dialer disposition (lead + campaign) or an inbound caller's keypress
-- (caller number + queue). agent_id set: only that agent; NULL: any agent of the queue/campaign.
CREATE TABLE IF NOT EXISTS callbacks (
    id             bigserial PRIMARY KEY,
    lead_id        bigint REFERENCES leads (id) ON DELETE CASCADE,
    caller_number  text,
    campaign_id    bigint REFERENCES campaigns (id) ON DELETE CASCADE,
    queue          text,
    agent_id       text,
    due_at         timestamptz NOT NULL,
    state          text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'claimed', 'done', 'cancelled', 'failed')),
    attempts       integer NOT NULL DEFAULT 0,
    note           text NOT NULL DEFAULT '',
    claimed_by     text,
    claimed_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (lead_id IS NOT NULL OR caller_number IS NOT NULL),
    CHECK (campaign_id IS NOT NULL OR queue IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS callbacks_due_idx ON callbacks (state, due_at);

-- ==== 0004_routing ====

-- Inbound routing read by the FastAGI `route` script (callcore.agi): DID -> queue mapping, VIP callers,
-- business hours per queue and holidays. A queue without business_hours rows is open all the time; a
-- window whose close_at is not after open_at runs past midnight into the next weekday.

CREATE TABLE IF NOT EXISTS did_routes (
    did                text PRIMARY KEY CHECK (did <> ''),
    queue              text NOT NULL CHECK (queue <> ''),
    priority           integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 100),
    language           text,
    after_hours_queue  text,
    note               text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS vip_callers (
    number      text PRIMARY KEY CHECK (number <> ''),
    priority    integer NOT NULL DEFAULT 10 CHECK (priority BETWEEN 0 AND 100),
    name        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- weekday: 0 = Monday ... 6 = Sunday; times are local to tz (an IANA zone name).
CREATE TABLE IF NOT EXISTS business_hours (
    queue     text NOT NULL,
    weekday   smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    open_at   time NOT NULL,
    close_at  time NOT NULL,
    tz        text NOT NULL DEFAULT 'UTC',
    PRIMARY KEY (queue, weekday, open_at)
);

-- queue NULL: a holiday for every queue.
CREATE TABLE IF NOT EXISTS holidays (
    id     bigserial PRIMARY KEY,
    day    date NOT NULL,
    queue  text,
    name   text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS holidays_day_queue_idx ON holidays (day, coalesce(queue, ''));

-- ==== 0005_campaign_notify ====

-- Campaign changes (created, started, paused, stopped, settings changed, deleted) raise
-- NOTIFY callcore_config 'campaign:<name>' so that every running instance starts or stops its dial loop
-- without a restart.

CREATE OR REPLACE FUNCTION callcore_notify_campaign() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('callcore_config', 'campaign:' || OLD.name);
    ELSIF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state
          OR NEW.settings IS DISTINCT FROM OLD.settings OR NEW.queue IS DISTINCT FROM OLD.queue THEN
        PERFORM pg_notify('callcore_config', 'campaign:' || NEW.name);
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS campaigns_notify_config ON campaigns;
CREATE TRIGGER campaigns_notify_config AFTER INSERT OR UPDATE OR DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION callcore_notify_campaign();

-- ==== 0006_web ====

-- Operator desktop and supervisor wallboard: sign-in accounts and browser sessions, help chat messages,
-- the department directory, calls flagged for review, and look-ups of a caller's history by number.

CREATE TABLE IF NOT EXISTS web_accounts (
    login          text PRIMARY KEY,          -- the agent id for role agent
    role           text NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    password_hash  text NOT NULL,             -- argon2id, PHC string
    endpoint       text NOT NULL DEFAULT '',  -- a supervisor's phone for listen / whisper / barge
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS web_sessions (
    id_hash     text PRIMARY KEY,             -- sha256 of the cookie value; the value itself is never stored
    login       text NOT NULL REFERENCES web_accounts (login) ON DELETE CASCADE,
    role        text NOT NULL,
    csrf        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_expiry_idx ON web_sessions (expires_at);

CREATE TABLE IF NOT EXISTS help_messages (
    id          bigserial PRIMARY KEY,
    request_id  bigint NOT NULL REFERENCES help_requests (id) ON DELETE CASCADE,
    sender      text NOT NULL,
    role        text NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    text        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS help_messages_request_idx ON help_messages (request_id, id);

CREATE TABLE IF NOT EXISTS departments (
    id              bigserial PRIMARY KEY,
    project         text NOT NULL DEFAULT '',  -- a queue or campaign name; '' for every project
    name            text NOT NULL,
    phone           text NOT NULL,
    hours           text NOT NULL DEFAULT '',
    transfer_queue  text,                      -- transfer there instead of dialling the phone
    UNIQUE (project, name)
);

CREATE TABLE IF NOT EXISTS call_flags (
    id             bigserial PRIMARY KEY,
    call_id        text,
    agent_id       text NOT NULL,
    caller_number  text NOT NULL DEFAULT '',
    reason         text NOT NULL CHECK (reason IN ('abusive', 'threat', 'quality', 'repeat', 'other')),
    note           text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    reviewed_at    timestamptz,
    reviewed_by    text
);
CREATE INDEX IF NOT EXISTS call_flags_open_idx ON call_flags (created_at) WHERE reviewed_at IS NULL;

CREATE INDEX IF NOT EXISTS calls_caller_idx ON calls (caller_number, entered_at);
CREATE INDEX IF NOT EXISTS tickets_caller_idx ON tickets (caller_number, created_at);

-- Queue memberships over time, for queue_log exports that say what was true when an agent logged in or
-- paused. Written by a trigger on memberships, so every writer (CLI, API, imports) records history.
CREATE TABLE IF NOT EXISTS membership_history (
    id          bigserial PRIMARY KEY,
    agent_id    text NOT NULL,
    queue       text NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz
);
CREATE INDEX IF NOT EXISTS membership_history_agent_idx ON membership_history (agent_id, valid_from);

-- memberships that exist when history starts: valid since always
INSERT INTO membership_history (agent_id, queue, valid_from)
SELECT m.agent_id, m.queue, '-infinity' FROM memberships m
 WHERE NOT EXISTS (SELECT 1 FROM membership_history);

CREATE OR REPLACE FUNCTION membership_history_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE membership_history SET valid_to = clock_timestamp()
         WHERE agent_id = OLD.agent_id AND queue = OLD.queue AND valid_to IS NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO membership_history (agent_id, queue, valid_from) VALUES (NEW.agent_id, NEW.queue, clock_timestamp());
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS memberships_history ON memberships;
CREATE TRIGGER memberships_history AFTER INSERT OR DELETE OR UPDATE OF agent_id, queue ON memberships
    FOR EACH ROW EXECUTE FUNCTION membership_history_track();

-- ==== 0010_queue_log ====

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
