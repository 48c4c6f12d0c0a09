-- $1: candidate forms of the caller number. Calls of the last 90 days.
SELECT count(*) AS calls,
       max(entered_at) AS last_call,
       (array_agg(nullif(caller_name, '') ORDER BY entered_at DESC)
            FILTER (WHERE nullif(caller_name, '') IS NOT NULL))[1] AS caller_name
FROM calls
WHERE caller_number = ANY($1::text[])
  AND entered_at > now() - interval '90 days'
