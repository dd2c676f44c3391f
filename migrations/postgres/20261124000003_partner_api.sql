-- Secret rotation keeps the previous secret signing beside the new one for a while;
-- an optional per-webhook cap on attempts per second; indexes for cursor-paginated logs.

ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_expires_at BIGINT;
ALTER TABLE webhooks ADD COLUMN rate_limit_per_second BIGINT;

CREATE INDEX deliveries_webhook_id ON deliveries (webhook_id, id);
CREATE INDEX attempts_webhook_id ON attempts (webhook_id, id);
