-- Ordered delivery per key (domain::ordering). An event may carry an ordering key; a
-- webhook with ordering 'per_key' sends the deliveries of one (tenant, key) one at a
-- time in publish order. The deliveries' new state and columns come with the table's
-- rebuild in the next migration (SQLite cannot change a CHECK in place).
ALTER TABLE events ADD COLUMN ordering_key TEXT;
ALTER TABLE webhooks ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none'
    CHECK (ordering IN ('none', 'per_key'));

-- Each key's last sequence.
CREATE TABLE ordering_keys (
    webhook_id    TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    ordering_key  TEXT NOT NULL,
    last_sequence INTEGER NOT NULL,
    PRIMARY KEY (webhook_id, tenant_id, ordering_key)
);
