SELECT count(*) FROM leads WHERE campaign_id = $1 AND state <> 'done'
