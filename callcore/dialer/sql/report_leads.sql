SELECT state, count(*)::bigint AS n FROM leads WHERE campaign_id = $1 GROUP BY state
