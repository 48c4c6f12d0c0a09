-- Finish callback $1 claimed by instance $4: done, failed, or pending again (due at $3).
UPDATE callbacks SET state = $2, due_at = coalesce($3, due_at), claimed_by = NULL, claimed_at = NULL
WHERE id = $1 AND state = 'claimed' AND claimed_by = $4
