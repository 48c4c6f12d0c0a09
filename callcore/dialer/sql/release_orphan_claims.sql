-- Leads of campaign $1 claimed by instance $2 before $3 that the instance does not hold ($4: the lead ids
-- it holds, is claiming or still has to write), with no attempt in progress: a claim whose reply was lost
-- when PostgreSQL went away. They go back to the queue unchanged (no attempt was made).
UPDATE leads l
   SET state = CASE WHEN l.callback_agent IS NOT NULL THEN 'callback' WHEN l.attempts = 0 THEN 'new'
                    ELSE 'scheduled' END,
       claimed_by = NULL, claimed_at = NULL
 WHERE l.campaign_id = $1 AND l.claimed_by = $2 AND l.state = 'dialing' AND l.claimed_at < $3
   AND NOT (l.id = ANY($4::bigint[]))
   AND NOT EXISTS (SELECT 1 FROM dial_attempts d WHERE d.lead_id = l.id AND d.ended_at IS NULL)
RETURNING l.id
