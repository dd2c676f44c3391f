-- Health monitoring: per-webhook streak state, one row per evaluation tick (so that in a
-- cluster exactly one instance evaluates it), and the notification outbox.

-- Attempts made before a reactivation released a delivery; the retry schedule counts from it.
ALTER TABLE deliveries ADD COLUMN retry_base BIGINT NOT NULL DEFAULT 0;

CREATE INDEX attempts_started ON attempts (started_at);

CREATE TABLE webhook_health (
    webhook_id        TEXT PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    status            TEXT NOT NULL CHECK (status IN ('healthy', 'unavailable', 'deactivated')),
    failure_since     BIGINT,
    warned            BIGINT NOT NULL DEFAULT 0,
    last_evaluated_at BIGINT,
    window_attempts   BIGINT NOT NULL DEFAULT 0,
    window_failures   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE evaluation_ticks (
    tick_at    BIGINT PRIMARY KEY,
    instance   TEXT NOT NULL,
    started_at BIGINT NOT NULL
);

-- Written in the same transaction as the health change; a relay publishes pending rows.
CREATE TABLE notifications (
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL,
    webhook_id       TEXT NOT NULL,
    severity         TEXT NOT NULL CHECK (severity IN ('warning', 'deactivation', 'recovered')),
    body             TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT,
    lease_until      BIGINT,
    publish_attempts BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT
);
CREATE INDEX notifications_pending ON notifications (created_at) WHERE sent_at IS NULL;
CREATE INDEX notifications_app ON notifications (app_id, created_at);
