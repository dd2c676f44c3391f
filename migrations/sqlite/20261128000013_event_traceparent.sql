-- The W3C traceparent of the publish that stored the event, when it was traced: every
-- attempt of the event's deliveries links its span to it, even after a restart.
ALTER TABLE events ADD COLUMN traceparent TEXT;
