-- Claim up to $2 pending inbound callbacks of queue $4 due by $1 for instance $3: anybody's, or personal
-- ones of the agents in $5 (those available now). SKIP LOCKED: concurrent instances never share one.
WITH picked AS (
    SELECT id FROM callbacks
    WHERE state = 'pending' AND due_at <= $1 AND queue = $4 AND lead_id IS NULL
      AND (agent_id IS NULL OR agent_id = ANY($5::text[]))
    ORDER BY due_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE callbacks c SET state = 'claimed', claimed_by = $3, claimed_at = $1, attempts = c.attempts + 1
FROM picked WHERE c.id = picked.id
RETURNING c.id, c.caller_number, c.queue, c.agent_id, c.attempts, c.note
