-- $1: candidate forms of the caller number.
SELECT count(*) AS open_tickets
FROM tickets
WHERE caller_number = ANY($1::text[])
  AND status = 'open'
