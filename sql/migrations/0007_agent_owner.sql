-- Each instance owns the agents logged in on its node: an agent's saved state names the instance that
-- wrote it, is restored only by that instance, and cannot be overwritten by another one's view (rows of
-- earlier versions have no owner and are not restored: their agents log in again once).
ALTER TABLE agent_state ADD COLUMN IF NOT EXISTS instance text NOT NULL DEFAULT '';
