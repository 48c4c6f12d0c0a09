SELECT id FROM campaigns WHERE name = $1
