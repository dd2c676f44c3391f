-- The event-type catalogue: what the platform publishes, for partners to pick from.
CREATE TABLE event_types (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    example     TEXT,
    deprecated  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
