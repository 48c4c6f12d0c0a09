-- What deleting campaign $1 would remove (and what must end first), its row locked against changes.
SELECT c.state,
       (SELECT count(*) FROM leads l WHERE l.campaign_id = c.id) AS leads,
       (SELECT count(*) FROM leads l WHERE l.campaign_id = c.id AND l.state = 'dialing') AS dialing,
       (SELECT count(*) FROM dial_attempts a WHERE a.campaign_id = c.id) AS attempts,
       (SELECT count(*) FROM dial_attempts a WHERE a.campaign_id = c.id AND a.ended_at IS NULL) AS open_attempts,
       (SELECT count(*) FROM uploads u WHERE u.campaign_id = c.id) AS uploads,
       (SELECT count(*) FROM callbacks b WHERE b.campaign_id = c.id) AS callbacks
FROM campaigns c
WHERE c.id = $1
FOR UPDATE OF c
