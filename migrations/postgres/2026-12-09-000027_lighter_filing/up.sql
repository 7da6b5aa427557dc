-- Filing on PostgreSQL was bound by its own CPU, and much of it went to
-- what each filing writes besides the ticket. Two changes:
--
-- 1. History rows no longer hold foreign keys to the live people and units
--    they name (the timeline's actor and units, a notification's recipient
--    and unit, an audit entry's actor and community). A key check locks the
--    parent row (FOR KEY SHARE), and a lock is a WAL record and, while
--    another filing holds the same row, a new MultiXact: every filing of a
--    community locked the same staff and unit rows several times. Measured
--    on a copy of the demo database, 3 rounds of 32 connections: PostgreSQL's
--    CPU per filing 1.85-2.13 ms with the keys, 1.67-1.75 ms without.
--    What the keys guarded still holds: users are never deleted, and a unit
--    is deleted only when no ticket has been at it and no audit entry names
--    it (`queries::unit_usage`), checked in the deleting transaction. The
--    keys to the ticket and to its event stay (rows of the same filing,
--    which no other transaction locks). SQLite keeps all of them: there a
--    check takes no lock (tests/api/schema_parity.rs lists the difference).
--
-- 2. A new ticket has no durations yet and is merged into nothing, so the
--    duration indexes of `ticket_reach` (4 rows a filing) and the
--    `merged_into_id` index need not hold it: the percentile reads ask for
--    `accept_hours IS NOT NULL` (`resolve_hours`), and no read looks tickets
--    up by `merged_into_id`.
ALTER TABLE audit_log
    DROP CONSTRAINT audit_log_actor_id_fkey,
    DROP CONSTRAINT audit_log_community_id_fkey;
ALTER TABLE ticket_events
    DROP CONSTRAINT ticket_events_actor_id_fkey,
    DROP CONSTRAINT ticket_events_from_unit_id_fkey,
    DROP CONSTRAINT ticket_events_to_unit_id_fkey;
ALTER TABLE notifications
    DROP CONSTRAINT notifications_user_id_fkey,
    DROP CONSTRAINT notifications_unit_id_fkey;

DROP INDEX ticket_reach_accept_hours_idx;
DROP INDEX ticket_reach_resolve_hours_idx;
DROP INDEX tickets_merged_into_idx;
CREATE INDEX ticket_reach_accept_hours_idx ON ticket_reach (unit_id, accept_hours, created_at)
    WHERE accept_hours IS NOT NULL;
CREATE INDEX ticket_reach_resolve_hours_idx ON ticket_reach (unit_id, resolve_hours, created_at)
    WHERE resolve_hours IS NOT NULL;
CREATE INDEX tickets_merged_into_idx ON tickets (merged_into_id) WHERE merged_into_id IS NOT NULL;
