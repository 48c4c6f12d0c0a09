DELETE FROM departments WHERE id = $1 RETURNING id
