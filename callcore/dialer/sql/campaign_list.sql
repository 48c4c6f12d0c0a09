SELECT c.id, c.name, c.state, c.settings::text AS settings, c.created_at,
       (SELECT count(*) FROM leads l WHERE l.campaign_id = c.id) AS leads,
       (SELECT count(*) FROM leads l WHERE l.campaign_id = c.id AND l.state <> 'done') AS remaining
FROM campaigns c
ORDER BY c.name
