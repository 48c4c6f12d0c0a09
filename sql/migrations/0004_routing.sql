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
