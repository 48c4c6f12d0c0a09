UPDATE calls SET recording_name = $2 WHERE call_id = $1 RETURNING call_id
