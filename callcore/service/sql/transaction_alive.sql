-- Any statement: fails when the current transaction is aborted (see ProjectingJournal._apply_batch).
SELECT 1
