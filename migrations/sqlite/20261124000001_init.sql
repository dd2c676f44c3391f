-- Times are milliseconds since the Unix epoch, written from the gateway's injectable clock.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('production', 'development')),
    created_at  INTEGER NOT NULL
);

CREATE TABLE apps (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Partner keys are stored as SHA-256 hashes; the key itself is shown once.
CREATE TABLE app_keys (
    key_hash   TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    prefix     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX app_keys_app ON app_keys (app_id);

CREATE TABLE installations (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    app_id     TEXT NOT NULL REFERENCES apps (id),
    state      TEXT NOT NULL CHECK (state IN ('active', 'revoked')),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    UNIQUE (tenant_id, app_id)
);
CREATE INDEX installations_app ON installations (app_id);

CREATE TABLE webhooks (
    id           TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL REFERENCES apps (id),
    url          TEXT NOT NULL,
    description  TEXT NOT NULL,
    environment  TEXT NOT NULL CHECK (environment IN ('production', 'development')),
    event_types  TEXT NOT NULL,
    secret       TEXT NOT NULL,
    headers      TEXT NOT NULL,
    timeout_ms   INTEGER NOT NULL,
    retry_policy TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('active', 'deactivated')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX webhooks_app ON webhooks (app_id);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    request_hash    TEXT NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    event_type      TEXT NOT NULL,
    occurred_at     INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    data            TEXT NOT NULL
);

-- due_at is the next attempt for a pending delivery and the lease expiry for an
-- in-flight one; NULL once delivered, failed or held. The claim query only reads
-- rows with due_at <= now through the partial index, so it stays flat as history grows.
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    event_id         TEXT NOT NULL REFERENCES events (id),
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    installation_id  TEXT NOT NULL,
    app_id           TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    state            TEXT NOT NULL
        CHECK (state IN ('pending', 'in_flight', 'delivered', 'failed', 'held', 'skipped')),
    attempt_count    INTEGER NOT NULL DEFAULT 0,
    due_at           INTEGER,
    lease_token      TEXT,
    first_failure_at INTEGER,
    last_attempt_at  INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_lease ON deliveries (lease_token) WHERE lease_token IS NOT NULL;
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at);
CREATE INDEX deliveries_event ON deliveries (event_id);

CREATE TABLE attempts (
    id               TEXT PRIMARY KEY,
    delivery_id      TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL,
    attempt_number   INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    latency_ms       INTEGER NOT NULL,
    outcome          TEXT NOT NULL,
    status_code      INTEGER,
    error            TEXT,
    response_excerpt TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempt_number);
CREATE INDEX attempts_webhook_time ON attempts (webhook_id, started_at);
