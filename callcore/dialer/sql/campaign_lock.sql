-- Keep campaign $1 from being deleted while leads are loaded into it (leads have no foreign key).
SELECT id FROM campaigns WHERE id = $1 FOR KEY SHARE
