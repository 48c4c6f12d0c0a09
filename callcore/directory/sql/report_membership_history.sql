SELECT agent_id, queue, extract(epoch FROM valid_from)::float8 AS valid_from,
       extract(epoch FROM valid_to)::float8 AS valid_to
  FROM membership_history
 ORDER BY agent_id, valid_from, queue
