-- Last abandoned call per number (the abandon lockout applies to the number, across campaigns).
SELECT number, max(extract(epoch FROM ended_at))::float8 AS at
FROM dial_attempts
WHERE number = ANY($1::text[]) AND abandoned AND ended_at >= $2
GROUP BY number
