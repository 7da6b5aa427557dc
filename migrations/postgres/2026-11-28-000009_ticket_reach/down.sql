DROP TRIGGER ticket_reach_on_ticket ON tickets;
DROP TRIGGER ticket_reach_on_visit ON ticket_visits;
DROP FUNCTION ticket_reach_update_ticket();
DROP FUNCTION ticket_reach_add_visit();
DROP TABLE ticket_reach;
CREATE INDEX tickets_stats_idx ON tickets (community_id, created_at)
    INCLUDE (id, status, kind, category_id, resolved_unit_id, accepted_at, resolved_at,
             accept_due_at, resolve_due_at, accept_breached_at, resolve_breached_at, reopen_count, rating);
CREATE INDEX tickets_accept_hours_idx ON tickets
    (community_id, (EXTRACT(EPOCH FROM (accepted_at - created_at))::float8 / 3600.0))
    INCLUDE (created_at, accepted_at, id);
CREATE INDEX tickets_resolve_hours_idx ON tickets
    (community_id, (EXTRACT(EPOCH FROM (resolved_at - created_at))::float8 / 3600.0))
    INCLUDE (created_at, resolved_at, id);
