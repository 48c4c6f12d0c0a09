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
