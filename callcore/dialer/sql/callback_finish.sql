-- $2: done, failed, cancelled, or pending again (with a new due time $3).
UPDATE callbacks SET state = $2, due_at = coalesce($3, due_at), claimed_by = NULL, claimed_at = NULL
WHERE id = $1
