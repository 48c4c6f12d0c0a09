-- $1 source, $2 note: moves the imported numbers into the list, skipping those already on it.
WITH ins AS (
    INSERT INTO dnc (phone_e164, source, note)
    SELECT DISTINCT phone_e164, $1, $2 FROM dnc_import
    ON CONFLICT (phone_e164) DO NOTHING
    RETURNING 1
)
SELECT count(*)::integer FROM ins
