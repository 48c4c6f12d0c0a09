UPDATE calls SET disposition_code = $2, disposition_notes = $3, callback_at = $4
 WHERE call_id = $1
RETURNING call_id
