-- Attempts of campaign $1 by outcome (in progress ones under NULL).
SELECT outcome, count(*)::bigint AS n FROM dial_attempts WHERE campaign_id = $1 GROUP BY outcome
