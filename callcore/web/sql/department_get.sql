SELECT id, project, name, phone, hours, transfer_queue FROM departments WHERE id = $1
