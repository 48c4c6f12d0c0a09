-- The instance $1 is still working on these leads: refresh their claim time to $3.
UPDATE leads SET claimed_at = $3 WHERE id = ANY($2::bigint[]) AND claimed_by = $1 AND state = 'dialing'
