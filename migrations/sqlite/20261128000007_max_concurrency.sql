-- A partner's own cap on attempts in flight to its listener (NULL: the gateway's
-- adaptive limit alone).
ALTER TABLE webhooks ADD COLUMN max_concurrency INTEGER;
