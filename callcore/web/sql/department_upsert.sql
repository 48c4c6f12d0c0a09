INSERT INTO departments (project, name, phone, hours, transfer_queue) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (project, name) DO UPDATE
   SET phone = EXCLUDED.phone, hours = EXCLUDED.hours, transfer_queue = EXCLUDED.transfer_queue
RETURNING id, project, name, phone, hours, transfer_queue
