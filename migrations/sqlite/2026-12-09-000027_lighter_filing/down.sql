DROP INDEX ticket_reach_accept_hours_idx;
DROP INDEX ticket_reach_resolve_hours_idx;
DROP INDEX tickets_merged_into_idx;
CREATE INDEX ticket_reach_accept_hours_idx ON ticket_reach (unit_id, accept_hours, created_at);
CREATE INDEX ticket_reach_resolve_hours_idx ON ticket_reach (unit_id, resolve_hours, created_at);
CREATE INDEX tickets_merged_into_idx ON tickets (merged_into_id);
