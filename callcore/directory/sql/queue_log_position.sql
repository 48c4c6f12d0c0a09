-- Where the table writer of partition $1 stopped: the last event it wrote lines for.
SELECT source_ts, source_event FROM queue_log WHERE partition = $1
 ORDER BY source_ts DESC, source_event DESC LIMIT 1
