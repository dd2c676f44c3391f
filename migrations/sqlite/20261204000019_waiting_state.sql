-- The deliveries table rebuilt, as SQLite changes a CHECK (ALTER TABLE cannot): the
-- state 'waiting' (behind its ordering key's head) and the columns ordering_key (set
-- while the delivery takes part in its key's order) and sequence. sqlx runs a migration
-- in a transaction, where foreign keys cannot be turned off, and dropping the old table
-- would then delete its attempts (ON DELETE CASCADE): the attempts table is rebuilt
-- beside it, referring to the new one, and the old one is dropped first. A rename
-- carries the references along.
CREATE TABLE deliveries_rebuilt (
    id               TEXT PRIMARY KEY,
    event_id         TEXT NOT NULL REFERENCES events (id),
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    installation_id  TEXT NOT NULL,
    app_id           TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    state            TEXT NOT NULL
        CHECK (state IN ('pending', 'in_flight', 'delivered', 'failed', 'held', 'skipped', 'waiting')),
    attempt_count    INTEGER NOT NULL DEFAULT 0,
    due_at           INTEGER,
    lease_token      TEXT,
    first_failure_at INTEGER,
    last_attempt_at  INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    retry_base       INTEGER NOT NULL DEFAULT 0,
    skip_reason      TEXT,
    fair_tag         INTEGER,
    ordering_key     TEXT,
    sequence         INTEGER
);
INSERT INTO deliveries_rebuilt (id, event_id, webhook_id, installation_id, app_id, tenant_id,
    event_type, state, attempt_count, due_at, lease_token, first_failure_at, last_attempt_at,
    created_at, updated_at, retry_base, skip_reason, fair_tag)
SELECT id, event_id, webhook_id, installation_id, app_id, tenant_id, event_type, state,
    attempt_count, due_at, lease_token, first_failure_at, last_attempt_at, created_at,
    updated_at, retry_base, skip_reason, fair_tag
FROM deliveries;
CREATE TABLE attempts_rebuilt (
    id               TEXT PRIMARY KEY,
    delivery_id      TEXT NOT NULL REFERENCES deliveries_rebuilt (id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL,
    attempt_number   INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    latency_ms       INTEGER NOT NULL,
    outcome          TEXT NOT NULL,
    status_code      INTEGER,
    error            TEXT,
    response_excerpt TEXT,
    retry_after_at   INTEGER
);
INSERT INTO attempts_rebuilt (id, delivery_id, webhook_id, attempt_number, started_at,
    latency_ms, outcome, status_code, error, response_excerpt, retry_after_at)
SELECT id, delivery_id, webhook_id, attempt_number, started_at, latency_ms, outcome,
    status_code, error, response_excerpt, retry_after_at
FROM attempts;
DROP TABLE attempts;
DROP TABLE deliveries;
ALTER TABLE deliveries_rebuilt RENAME TO deliveries;
ALTER TABLE attempts_rebuilt RENAME TO attempts;
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempt_number);
CREATE INDEX attempts_webhook_time ON attempts (webhook_id, started_at);
CREATE INDEX attempts_started ON attempts (started_at);
CREATE INDEX attempts_webhook_id ON attempts (webhook_id, id);
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_lease ON deliveries (lease_token) WHERE lease_token IS NOT NULL;
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_webhook_id ON deliveries (webhook_id, id);
CREATE INDEX deliveries_held ON deliveries (webhook_id) WHERE state = 'held';
CREATE INDEX deliveries_webhook_due ON deliveries (webhook_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_webhook_fair ON deliveries (webhook_id, fair_tag) WHERE fair_tag IS NOT NULL;
CREATE INDEX deliveries_untagged_due ON deliveries (due_at, id)
    WHERE due_at IS NOT NULL AND fair_tag IS NULL;
-- A key's open deliveries in order: whether a publish's is the head, and which is next.
CREATE INDEX deliveries_key_open ON deliveries (webhook_id, tenant_id, ordering_key, sequence)
    WHERE ordering_key IS NOT NULL AND state IN ('pending', 'in_flight', 'held', 'waiting');
