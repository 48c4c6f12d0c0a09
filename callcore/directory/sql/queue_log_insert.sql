-- queue_log lines, one array element each; a line already written (same partition, event and n-th line) is
-- skipped, so rewriting after a restart repeats nothing.
INSERT INTO queue_log (time, callid, queuename, agent, event, data1, data2, data3, data4, data5, partition,
                       serverid, source_ts, source_event, source_seq)
SELECT to_timestamp(t), c, q, a, e, d1, d2, d3, d4, d5, $1, s, st, se, sq
  FROM unnest($2::float8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
              $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::bigint[], $15::int[])
       AS l(t, c, q, a, e, d1, d2, d3, d4, d5, s, st, se, sq)
ON CONFLICT (partition, source_event, source_seq) DO NOTHING
