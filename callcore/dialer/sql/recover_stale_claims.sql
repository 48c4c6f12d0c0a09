-- Leads claimed before $1 whose instance stopped refreshing the claim (it died). $2: only this campaign,
-- or NULL. A lead with no attempt in progress was only claimed: it goes back to the queue unchanged. A
-- lead whose attempt never ended is resolved from what the journal knows about that call (connected:
-- contacted; answered (or answered and in AMD) but not connected: abandoned; otherwise it rang out: no-answer), and the attempt
-- counts against the lead's cap; it is never reset to a fresh lead.
WITH stale AS (
    SELECT l.id, l.claimed_by, a.id AS attempt_id,
           coalesce((SELECT array_agg(e.type) FROM events e WHERE e.call_id = a.id), '{}') AS facts
    FROM leads l
    LEFT JOIN LATERAL (SELECT d.id FROM dial_attempts d WHERE d.lead_id = l.id AND d.ended_at IS NULL
                       ORDER BY d.started_at DESC LIMIT 1) a ON true
    WHERE l.state = 'dialing' AND l.claimed_at < $1 AND ($2::bigint IS NULL OR l.campaign_id = $2)
    FOR UPDATE OF l SKIP LOCKED
), resolved AS (
    SELECT id, claimed_by, attempt_id,
           CASE WHEN attempt_id IS NULL THEN NULL
                WHEN 'dialer.connected' = ANY(facts) OR 'call.answered' = ANY(facts) THEN 'human'
                WHEN 'dialer.answered' = ANY(facts) OR 'dialer.amd_started' = ANY(facts) THEN 'abandoned'
                ELSE 'no-answer' END AS outcome
    FROM stale
), leads_done AS (
    UPDATE leads l
    SET state = CASE WHEN r.outcome = 'human' THEN 'done' WHEN l.callback_agent IS NOT NULL THEN 'callback'
                     WHEN r.outcome IS NULL AND l.attempts = 0 THEN 'new' ELSE 'scheduled' END,
        attempts = l.attempts + CASE WHEN r.outcome IS NULL THEN 0 ELSE 1 END,
        last_outcome = coalesce(r.outcome, l.last_outcome),
        final_reason = CASE WHEN r.outcome = 'human' THEN 'contacted' ELSE l.final_reason END,
        last_abandoned_at = CASE WHEN r.outcome = 'abandoned' THEN now() ELSE l.last_abandoned_at END,
        next_attempt_at = CASE WHEN r.outcome IS NULL THEN now() ELSE now() + interval '1 hour' END,
        last_attempt_at = CASE WHEN r.outcome IS NULL THEN l.last_attempt_at ELSE now() END,
        claimed_by = NULL, claimed_at = NULL
    FROM resolved r
    WHERE l.id = r.id
    RETURNING l.id
), closed AS (
    UPDATE dial_attempts d
    SET outcome = r.outcome, ended_at = now(), abandoned = (r.outcome = 'abandoned'),
        answered_at = CASE WHEN r.outcome IN ('human', 'abandoned') THEN coalesce(d.answered_at, d.started_at)
                           ELSE d.answered_at END
    FROM resolved r
    WHERE d.id = r.attempt_id
    RETURNING d.id
)
SELECT r.id, r.claimed_by, r.outcome, (SELECT count(*) FROM closed) AS closed
FROM resolved r JOIN leads_done USING (id)
