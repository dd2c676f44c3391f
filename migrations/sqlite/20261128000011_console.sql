-- Platform console sessions, by the hash of the cookie's token. A session holds the hash
-- of the platform key it was opened with: when the operator changes HOOKGATE_PLATFORM_KEY
-- every console session ends.
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
