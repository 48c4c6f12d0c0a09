-- $1: every form under which the number may be stored.
DELETE FROM vip_callers
WHERE number = ANY($1::text[])
RETURNING number
