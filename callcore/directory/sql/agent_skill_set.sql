UPDATE agents
   SET skills = CASE WHEN $3::integer IS NULL THEN skills - $2::text
                     ELSE skills || jsonb_build_object($2::text, $3::integer) END,
       updated_at = now()
 WHERE id = $1
RETURNING id
