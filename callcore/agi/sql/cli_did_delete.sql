-- $1: every form under which the DID may be stored.
DELETE FROM did_routes
WHERE did = ANY($1::text[])
RETURNING did
