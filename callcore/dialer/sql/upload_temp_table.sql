-- zones: the lead's time zones joined with '|' (mapped to zone_sets once per distinct set).
-- data arrives as JSON text and is parsed by COPY, while the next rows are still being read.
CREATE TEMP TABLE upload_rows (
    line        integer NOT NULL,
    phone_e164  text COLLATE "C" NOT NULL,
    name        text NOT NULL,
    zones       text NOT NULL,
    data        jsonb NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE upload_rejects (
    line        integer NOT NULL,
    reason      text NOT NULL,
    phone_e164  text NOT NULL,
    detail      text NOT NULL
) ON COMMIT DROP
