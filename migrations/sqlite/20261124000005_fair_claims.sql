-- Fair claims: each webhook's due deliveries, oldest first, one index probe per webhook.
CREATE INDEX deliveries_webhook_due ON deliveries (webhook_id, due_at) WHERE due_at IS NOT NULL;
