-- Held deliveries are counted for metrics and released at reactivation.
CREATE INDEX deliveries_held ON deliveries (webhook_id) WHERE state = 'held';
