-- Listener ownership (domain::ownership): instances heartbeat, and each active webhook
-- is leased to one of them. A lease is never deleted while its webhook exists: released
-- or lapsed, it keeps its fence, which rises each time the lease is taken, so work begun
-- under an older fence can be refused.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);

CREATE TABLE webhook_owners (
    webhook_id  TEXT PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    instance_id TEXT NOT NULL,
    fence       INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX webhook_owners_instance ON webhook_owners (instance_id, expires_at);
