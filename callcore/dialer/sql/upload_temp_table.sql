CREATE TEMP TABLE upload_rows (
    line        integer NOT NULL,
    phone_e164  text NOT NULL,
    name        text NOT NULL,
    tz          text[] NOT NULL,
    data        text NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE upload_rejects (
    line        integer NOT NULL,
    reason      text NOT NULL,
    phone_e164  text NOT NULL,
    detail      text NOT NULL
) ON COMMIT DROP
