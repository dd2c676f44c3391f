-- Fair claims: due deliveries in order with their webhook, so the claim can skip the
-- webhooks this instance has at capacity without reading the table.
CREATE INDEX deliveries_due_webhook ON deliveries (due_at, webhook_id) WHERE due_at IS NOT NULL;
