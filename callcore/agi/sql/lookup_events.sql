-- Fallback when the calls table is missing: inbound calls seen in the journal (last 90 days).
-- $1: candidate forms of the caller number.
SELECT count(*) AS calls, max(ts) AS last_call, NULL::text AS caller_name
FROM events
WHERE payload ->> 'caller_number' = ANY($1::text[])
  AND ts > now() - interval '90 days'
