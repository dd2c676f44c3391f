-- Tenant-fair scheduling per webhook (domain::fair_share): start-time fair queuing.
-- A delivery joins its webhook's queue when it falls due (fresh, a retry, a released
-- held one, an expired lease) and is given a virtual start tag then; the claim takes each
-- webhook's lowest tags. fair_tag is set only while a delivery waits in that queue.
ALTER TABLE deliveries ADD COLUMN fair_tag INTEGER;
CREATE INDEX deliveries_webhook_fair ON deliveries (webhook_id, fair_tag) WHERE fair_tag IS NOT NULL;
-- What falls due and has no tag yet: the claim tags these first, in due order.
CREATE INDEX deliveries_untagged_due ON deliveries (due_at, id)
    WHERE due_at IS NOT NULL AND fair_tag IS NULL;

-- Each tenant's finish tag on each webhook: where its next delivery's tag starts.
CREATE TABLE fair_queues (
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    finish_tag INTEGER NOT NULL,
    PRIMARY KEY (webhook_id, tenant_id)
);
-- A webhook's latest finish tag: its virtual time while its queue is empty.
CREATE INDEX fair_queues_finish ON fair_queues (webhook_id, finish_tag);

-- The platform's weight for a tenant's share of each listener (a larger plan).
ALTER TABLE installations ADD COLUMN delivery_weight INTEGER NOT NULL DEFAULT 1
    CHECK (delivery_weight BETWEEN 1 AND 100);
