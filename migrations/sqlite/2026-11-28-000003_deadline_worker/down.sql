DROP INDEX tickets_resolved_at_idx;
DROP INDEX tickets_resolve_watch_idx;
DROP INDEX tickets_accept_watch_idx;
ALTER TABLE tickets DROP COLUMN resolve_breached_at;
ALTER TABLE tickets DROP COLUMN accept_breached_at;
