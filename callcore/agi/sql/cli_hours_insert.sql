-- $1 queue, $2 weekdays (0 = Monday), $3 open, $4 close, $5 time zone: one window per weekday.
INSERT INTO business_hours (queue, weekday, open_at, close_at, tz)
SELECT $1, d, $3::time, $4::time, $5
FROM unnest($2::smallint[]) AS d
