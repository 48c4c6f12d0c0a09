-- Leads claimed before $1 whose instance stopped refreshing the claim (it died): back to the queue,
-- and their attempts that never ended are closed with outcome 'lost'. $2: only this campaign, or NULL.
WITH stale AS (
    UPDATE leads
    SET state = CASE WHEN callback_agent IS NOT NULL THEN 'callback' WHEN attempts = 0 THEN 'new'
                     ELSE 'scheduled' END,
        claimed_by = NULL, claimed_at = NULL, next_attempt_at = now()
    WHERE state = 'dialing' AND claimed_at < $1 AND ($2::bigint IS NULL OR campaign_id = $2)
    RETURNING id, claimed_by
), closed AS (
    UPDATE dial_attempts a
    SET outcome = 'lost', ended_at = now()
    FROM stale
    WHERE a.lead_id = stale.id AND a.ended_at IS NULL
    RETURNING a.id
)
SELECT id, claimed_by, (SELECT count(*) FROM closed) AS closed FROM stale
