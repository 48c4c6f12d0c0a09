-- Archive campaign $1: it is never dialled again (only 'running' campaigns are), its pending callbacks are
-- cancelled; leads, attempts and uploads stay for reports. Calls in progress end and are recorded as usual.
WITH c AS (
    UPDATE campaigns SET state = 'archived', archived_at = now(), updated_at = now()
    WHERE id = $1 AND state <> 'archived'
    RETURNING id
), cb AS (
    UPDATE callbacks SET state = 'cancelled'
    WHERE campaign_id IN (SELECT id FROM c) AND state = 'pending'
    RETURNING 1
)
SELECT (SELECT count(*) FROM c) AS archived,
       (SELECT count(*) FROM cb) AS callbacks_cancelled,
       (SELECT count(*) FROM leads WHERE campaign_id = $1 AND state <> 'done') AS leads_waiting,
       (SELECT count(*) FROM leads WHERE campaign_id = $1 AND state = 'dialing') AS leads_dialing
