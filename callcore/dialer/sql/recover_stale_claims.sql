-- Leads claimed before $1 whose instance stopped refreshing the claim (it died): back to the queue.
-- $2: only this campaign, or NULL for all.
UPDATE leads
SET state = CASE WHEN attempts = 0 THEN 'new' ELSE 'scheduled' END,
    claimed_by = NULL, claimed_at = NULL, next_attempt_at = now()
WHERE state = 'dialing' AND claimed_at < $1 AND ($2::bigint IS NULL OR campaign_id = $2)
RETURNING id, claimed_by
