-- $1: candidate forms of the caller number.
SELECT priority, name
FROM vip_callers
WHERE number = ANY($1::text[])
ORDER BY priority DESC
LIMIT 1
