DROP TRIGGER ticket_reach_on_ticket;
DROP TRIGGER ticket_reach_on_visit;
DROP TABLE ticket_reach;
CREATE INDEX tickets_stats_idx ON tickets (community_id, created_at, status, kind, category_id,
    resolved_unit_id, accepted_at, resolved_at, accept_due_at, resolve_due_at, accept_breached_at,
    resolve_breached_at, reopen_count, rating);
CREATE INDEX tickets_accept_hours_idx ON tickets
    (community_id, ((julianday(accepted_at) - julianday(created_at)) * 24.0), created_at);
CREATE INDEX tickets_resolve_hours_idx ON tickets
    (community_id, ((julianday(resolved_at) - julianday(created_at)) * 24.0), created_at);
