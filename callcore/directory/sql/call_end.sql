UPDATE calls SET ended_at = $2, outcome = $3 WHERE call_id = $1 RETURNING call_id
