-- The OAuth client of the platform's authorization server that acts for an app: its
-- access tokens (RFC 9068, `client_id`) are accepted on the app's partner routes.
ALTER TABLE apps ADD COLUMN oauth_client_id TEXT;
CREATE UNIQUE INDEX apps_oauth_client ON apps (oauth_client_id);
