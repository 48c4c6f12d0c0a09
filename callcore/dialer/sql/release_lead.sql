-- Write the lead's new state after an attempt (or a refusal) and drop the claim.
UPDATE leads
SET state = $2, attempts = $3, next_attempt_at = coalesce($4, next_attempt_at), last_outcome = $5,
    final_reason = $6, last_abandoned_at = $7, callback_agent = $8,
    last_attempt_at = coalesce($9, last_attempt_at), claimed_by = NULL, claimed_at = NULL
WHERE id = $1
