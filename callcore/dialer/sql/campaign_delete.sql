-- Delete campaign $1: its leads go with it (trigger leads_follow_campaign), attempts, uploads and callbacks
-- by ON DELETE CASCADE. The do-not-call list is global and is not touched.
DELETE FROM campaigns WHERE id = $1
