-- Inbound callbacks claimed before $1 whose instance never finished them (it stopped): pending again.
UPDATE callbacks SET state = 'pending', claimed_by = NULL, claimed_at = NULL
WHERE state = 'claimed' AND claimed_at < $1 AND lead_id IS NULL AND queue IS NOT NULL
RETURNING id
