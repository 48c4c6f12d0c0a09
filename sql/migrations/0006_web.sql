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
