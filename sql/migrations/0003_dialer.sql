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
                CHECK (state IN ('created', 'running', 'paused', 'stopped')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
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
