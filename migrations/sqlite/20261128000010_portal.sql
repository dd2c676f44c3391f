-- Partner portal sessions (by the hash of the cookie's token) and one-time portal links
-- (by the hash of the link's token). Both go with their app.
CREATE TABLE portal_sessions (
    token_hash TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    -- The partner key signed in with; the session ends when it is revoked. NULL for a
    -- session opened by a portal link.
    key_hash   TEXT,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX portal_sessions_app ON portal_sessions (app_id);

CREATE TABLE portal_links (
    token_hash TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX portal_links_app ON portal_links (app_id);
