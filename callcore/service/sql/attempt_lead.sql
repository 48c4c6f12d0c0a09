-- The lead dialled by outbound attempt $1 and its state (no row: not an outbound call).
SELECT a.lead_id, l.state FROM dial_attempts a LEFT JOIN leads l ON l.id = a.lead_id WHERE a.id = $1
