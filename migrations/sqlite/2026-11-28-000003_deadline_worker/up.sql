-- The deadline worker (督办): breaches are flagged once, and the worker finds
-- its work through small partial indexes.
ALTER TABLE tickets ADD COLUMN accept_breached_at TIMESTAMP;
ALTER TABLE tickets ADD COLUMN resolve_breached_at TIMESTAMP;
CREATE INDEX tickets_accept_watch_idx ON tickets (accept_due_at)
    WHERE status = 'assigned' AND accept_breached_at IS NULL;
CREATE INDEX tickets_resolve_watch_idx ON tickets (resolve_due_at)
    WHERE status IN ('assigned', 'accepted') AND resolve_breached_at IS NULL;
CREATE INDEX tickets_resolved_at_idx ON tickets (resolved_at) WHERE status = 'resolved';
