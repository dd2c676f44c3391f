-- When the receiver's Retry-After (on a 429 or 503) asked the next attempt to wait until.
ALTER TABLE attempts ADD COLUMN retry_after_at BIGINT;
