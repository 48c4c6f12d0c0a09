-- Start times of recent attempts per number (daily caps per number, across campaigns).
SELECT number, array_agg(extract(epoch FROM started_at)::float8 ORDER BY started_at) AS times
FROM dial_attempts
WHERE number = ANY($1::text[]) AND started_at >= $2
GROUP BY number
