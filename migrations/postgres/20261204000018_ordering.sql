-- Ordered delivery per key (domain::ordering). An event may carry an ordering key; a
-- webhook with ordering 'per_key' sends the deliveries of one (tenant, key) one at a
-- time in publish order. Only the key's head is claimable (pending, in flight or held);
-- the rest are 'waiting', with no due time and no fair tag, so neither the claim nor
-- the tagging sees them until the head ends and the next is made due.
ALTER TABLE events ADD COLUMN ordering_key TEXT;
ALTER TABLE webhooks ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none'
    CHECK (ordering IN ('none', 'per_key'));

-- deliveries.ordering_key is set while the delivery takes part in its key's order (a
-- resend or replay goes out of band and clears it); sequence stays for the body.
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN sequence BIGINT;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'in_flight', 'delivered', 'failed', 'held', 'skipped', 'waiting'));
-- A key's open deliveries in order: whether a publish's is the head, and which is next.
CREATE INDEX deliveries_key_open ON deliveries (webhook_id, tenant_id, ordering_key, sequence)
    WHERE ordering_key IS NOT NULL AND state IN ('pending', 'in_flight', 'held', 'waiting');

-- Each key's last sequence. Its row lock serialises a key's publishes and the end of its
-- head across instances, so a publish never misses the head ending beside it.
CREATE TABLE ordering_keys (
    webhook_id    TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    ordering_key  TEXT NOT NULL,
    last_sequence BIGINT NOT NULL,
    PRIMARY KEY (webhook_id, tenant_id, ordering_key)
);
