-- Keep campaign $1 from being deleted while leads are loaded into it (leads have no foreign key); its state.
SELECT state FROM campaigns WHERE id = $1 FOR KEY SHARE
