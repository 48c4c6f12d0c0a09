-- Working tables of one upload, gone at commit or rollback.
-- upload_rows holds one chunk of cleaned rows at a time (upload_chunk.sql empties it): zones is the lead's
-- time-zone set joined with '|', data arrives as JSON text and is parsed by COPY.
CREATE TEMP TABLE upload_rows (
    line        integer NOT NULL,
    phone_e164  text COLLATE "C" NOT NULL,
    name        text NOT NULL,
    zones       text NOT NULL,
    data        jsonb NOT NULL
) ON COMMIT DROP;
-- zone_sets id of every time-zone set the upload has seen so far.
CREATE TEMP TABLE upload_zones (
    key  text PRIMARY KEY,
    id   integer
) ON COMMIT DROP;
CREATE TEMP TABLE upload_rejects (
    line        integer NOT NULL,
    reason      text NOT NULL,
    phone_e164  text NOT NULL,
    detail      text NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE upload_params (
    campaign_id  bigint NOT NULL,
    upload_id    bigint NOT NULL,
    file_name    text NOT NULL,
    inserted     integer NOT NULL DEFAULT 0
) ON COMMIT DROP
