-- Statistics at a million tickets read indexes, not the table.
-- Counts: everything the grouped pass reads, by community and filing time,
-- so that the index covers the query.
CREATE INDEX tickets_stats_idx ON tickets (community_id, created_at, status, kind, category_id,
    resolved_unit_id, accepted_at, resolved_at, accept_due_at, resolve_due_at, accept_breached_at,
    resolve_breached_at, reopen_count, rating);
-- Percentiles: each duration in hours, in order, per community. A median or
-- 90th percentile is read by walking to its rank instead of sorting every
-- value. The expressions must stay identical to `db::stats::hours`.
CREATE INDEX tickets_accept_hours_idx ON tickets
    (community_id, ((julianday(accepted_at) - julianday(created_at)) * 24.0), created_at);
CREATE INDEX tickets_resolve_hours_idx ON tickets
    (community_id, ((julianday(resolved_at) - julianday(created_at)) * 24.0), created_at);
