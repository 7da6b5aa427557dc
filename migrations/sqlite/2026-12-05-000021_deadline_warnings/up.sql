-- Warnings before a deadline passes (the worker's `DeadlineStep` passes
-- tell the unit holding a ticket once a set share of its time to sign for
-- or to resolve is gone). A deadline's time runs from the ticket's arrival
-- at its unit; each deadline is warned of once: `*_warned_due` holds the
-- deadline last warned of, so a new deadline (another arrival, an
-- extension) is warned of again, and nothing needs resetting.
ALTER TABLE tickets ADD COLUMN arrived_at TIMESTAMP;
ALTER TABLE tickets ADD COLUMN accept_warned_due TIMESTAMP;
ALTER TABLE tickets ADD COLUMN resolve_warned_due TIMESTAMP;
-- The last arrival of each ticket so far: its newest event that brought it
-- to a unit (filing, escalation, dispatch, return, reopening).
UPDATE tickets SET arrived_at = COALESCE(
    (SELECT MAX(e.created_at) FROM ticket_events e WHERE e.ticket_id = tickets.id AND e.to_unit_id IS NOT NULL),
    created_at);
