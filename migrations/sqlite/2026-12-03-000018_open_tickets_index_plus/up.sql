-- tickets_open_idx again, its condition said as `+status IN (...)`, and
-- `overdue=true` says it the same way. With plain `status IN (...)` the
-- query's term also let SQLite seek `tickets_resolve_due_idx` (status,
-- resolve_due_at): ANALYZE counts 1/8 of all tickets per status, so the
-- planner took that seek for every open ticket and a sort of them all
-- (1,150 req/s at 10,000 tickets, against 4,900 for the plain list). The
-- unary plus keeps the term out of every index seek, while the query still
-- matches this index's condition exactly, so only the walk is left.
DROP INDEX tickets_open_idx;
CREATE INDEX tickets_open_idx ON tickets (id, community_id, status, accept_due_at, resolve_due_at)
    WHERE +status IN ('assigned', 'accepted');
