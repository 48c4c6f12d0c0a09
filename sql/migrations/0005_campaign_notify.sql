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
