-- Each app's own notification destinations (an SQS queue, possibly in the partner's AWS
-- account through a role; or a signed HTTPS endpoint), and the outbox as one row per
-- (notification, destination): each destination is sent to, retried and ordered on its
-- own. `platform` is the gateway's own queue, when one is configured.
CREATE TABLE notification_destinations (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('sqs', 'https')),
    queue_url       TEXT,
    region          TEXT,
    role_arn        TEXT,
    external_id     TEXT,
    url             TEXT,
    secret          TEXT,
    severities      TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    -- The last send's (or test's) outcome.
    state           TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'failing')),
    last_success_at BIGINT,
    last_error_at   BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX notification_destinations_app ON notification_destinations (app_id, created_at);

CREATE TABLE notification_sends (
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    destination_id  TEXT NOT NULL,
    -- The notification's, copied: a destination's rows go out in this order.
    created_at      BIGINT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'expired')),
    due_at          BIGINT NOT NULL,
    lease_until     BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    sent_at         BIGINT,
    last_error      TEXT,
    PRIMARY KEY (notification_id, destination_id)
);
CREATE INDEX notification_sends_pending ON notification_sends (destination_id, created_at, notification_id)
    WHERE state = 'pending';
CREATE INDEX notification_sends_due ON notification_sends (due_at) WHERE state = 'pending';

-- What the single relay had not sent yet is the platform queue's.
INSERT INTO notification_sends (notification_id, destination_id, created_at, due_at)
    SELECT id, 'platform', created_at, created_at FROM notifications WHERE sent_at IS NULL;
