SELECT id, project, name, phone, hours, transfer_queue
  FROM departments
 WHERE $1::text[] IS NULL OR project = '' OR project = ANY($1::text[])
 ORDER BY name, project
