-- Leads with several possible time zones: how many, how many can be in zone $2 (a campaign's default zone,
-- or ''), the most zones one has, and one such lead.
SELECT a.n, a.by_default, a.widest, s.phone_e164 AS sample, s.zones
  FROM (SELECT count(*) AS n, count(*) FILTER (WHERE $2::text = ANY (z.zones)) AS by_default,
               max(cardinality(z.zones)) AS widest
          FROM leads l JOIN zone_sets z ON z.id = l.zone_set
         WHERE l.campaign_id = $1 AND l.state <> 'done' AND cardinality(z.zones) > 1) a
  LEFT JOIN LATERAL (SELECT l.phone_e164, z.zones
                       FROM leads l JOIN zone_sets z ON z.id = l.zone_set
                      WHERE l.campaign_id = $1 AND l.state <> 'done' AND cardinality(z.zones) = a.widest
                      ORDER BY l.id LIMIT 1) s ON true
