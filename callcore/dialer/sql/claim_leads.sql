-- Claim up to $3 due leads of campaign $1 for instance $4 at time $2, in due order (file order within
-- an upload), skipping personal callbacks. FOR UPDATE SKIP LOCKED lets several callcore instances claim
-- concurrently without ever handing the same lead to two of them; the order walks leads_claim_idx.
WITH picked AS (
    SELECT id, state AS prev_state
    FROM leads
    WHERE campaign_id = $1
      AND state IN ('new', 'scheduled', 'callback')
      AND next_attempt_at <= $2
      AND callback_agent IS NULL
    ORDER BY next_attempt_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE leads l
SET state = 'dialing', claimed_by = $4, claimed_at = $2
FROM picked
WHERE l.id = picked.id
RETURNING l.id, l.campaign_id, l.phone_e164, l.name,
          coalesce((SELECT z.zones FROM zone_sets z WHERE z.id = l.zone_set), l.tz) AS tz,
          l.data::text AS data, picked.prev_state,
          l.attempts, l.next_attempt_at, l.last_outcome, l.last_abandoned_at, l.callback_agent
