-- Filing writes fewer index entries (see the PostgreSQL migration of the same
-- name). A new ticket has no durations yet and is merged into nothing, so
-- these indexes need not hold it: the percentile reads ask for
-- `accept_hours IS NOT NULL` (`resolve_hours`), and no read looks tickets up
-- by `merged_into_id` (the index serves the key's checks).
DROP INDEX ticket_reach_accept_hours_idx;
DROP INDEX ticket_reach_resolve_hours_idx;
DROP INDEX tickets_merged_into_idx;
CREATE INDEX ticket_reach_accept_hours_idx ON ticket_reach (unit_id, accept_hours, created_at)
    WHERE accept_hours IS NOT NULL;
CREATE INDEX ticket_reach_resolve_hours_idx ON ticket_reach (unit_id, resolve_hours, created_at)
    WHERE resolve_hours IS NOT NULL;
CREATE INDEX tickets_merged_into_idx ON tickets (merged_into_id) WHERE merged_into_id IS NOT NULL;
