-- Live answers and abandoned calls of campaign $1 since $2 (an abandoned call is also a live answer).
SELECT count(*) FILTER (WHERE outcome IN ('human', 'abandoned'))::bigint AS answered,
       count(*) FILTER (WHERE abandoned)::bigint AS abandoned
FROM dial_attempts
WHERE campaign_id = $1 AND started_at >= $2
