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
    since         timestamptz NOT NULL DEFAULT now()
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
