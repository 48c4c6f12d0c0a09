-- Claim up to $2 pending callbacks due by $1 for instance $3 (optionally only queue $4).
WITH picked AS (
    SELECT id FROM callbacks
    WHERE state = 'pending' AND due_at <= $1 AND ($4::text IS NULL OR queue = $4)
    ORDER BY due_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE callbacks c SET state = 'claimed', claimed_by = $3, claimed_at = $1, attempts = c.attempts + 1
FROM picked WHERE c.id = picked.id
RETURNING c.id, c.lead_id, c.caller_number, c.campaign_id, c.queue, c.agent_id, c.due_at, c.note
