-- Archived campaigns: never dialled again, their leads, attempts and uploads kept for reports.
ALTER TABLE campaigns DROP CONSTRAINT IF EXISTS campaigns_state_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_state_check
    CHECK (state IN ('created', 'running', 'paused', 'stopped', 'archived'));
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS archived_at timestamptz;
