-- Statistics at a million tickets read indexes, not the table.
-- Counts: everything the grouped pass reads, by community and filing time,
-- for index-only scans.
CREATE INDEX tickets_stats_idx ON tickets (community_id, created_at)
    INCLUDE (id, status, kind, category_id, resolved_unit_id, accepted_at, resolved_at,
             accept_due_at, resolve_due_at, accept_breached_at, resolve_breached_at, reopen_count, rating);
-- Percentiles: each duration in hours, in order, per community. A median or
-- 90th percentile is read by walking to its rank instead of sorting every
-- value. The expressions must stay identical to `db::stats::hours`.
CREATE INDEX tickets_accept_hours_idx ON tickets
    (community_id, (EXTRACT(EPOCH FROM (accepted_at - created_at))::float8 / 3600.0))
    INCLUDE (created_at, accepted_at, id);
CREATE INDEX tickets_resolve_hours_idx ON tickets
    (community_id, (EXTRACT(EPOCH FROM (resolved_at - created_at))::float8 / 3600.0))
    INCLUDE (created_at, resolved_at, id);
