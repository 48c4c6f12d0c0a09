-- Register the distinct time-zone sets of the rows left in upload_rows and map each to its zone_sets id.
-- ON CONFLICT waits for a concurrent upload adding the same set and then uses its row.
CREATE TEMP TABLE upload_zones ON COMMIT DROP AS
SELECT DISTINCT zones AS key, string_to_array(zones, '|') AS zones, 0 AS id FROM upload_rows;
INSERT INTO zone_sets (zones) SELECT zones FROM upload_zones ON CONFLICT (zones) DO NOTHING;
UPDATE upload_zones k SET id = z.id FROM zone_sets z WHERE z.zones = k.zones
