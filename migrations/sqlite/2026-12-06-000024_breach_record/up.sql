-- A missed deadline stays on the record of the unit that missed it (超时记录).
-- A ticket's deadline columns describe only the unit holding it now (an
-- arrival resets them), so the breach is kept here, one row per miss, written
-- in the same transaction as the step that found it (`service::lifecycle`):
-- the deadline worker's escalation (auto_escalate) or flag (accept_overdue,
-- resolve_overdue), and a sign-for or resolution made after its deadline.
-- Rows are never updated or deleted.
CREATE TABLE ticket_breaches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    -- The unit holding the ticket when the deadline ran out.
    unit_id BIGINT NOT NULL REFERENCES units (id),
    -- 'accept' (to sign for) or 'resolve'.
    deadline TEXT NOT NULL CHECK (deadline IN ('accept', 'resolve')),
    -- When the miss was recorded: the worker's pass, or the late action.
    at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_breaches_ticket_idx ON ticket_breaches (ticket_id, unit_id);

-- History: the worker's breaches are in the timeline, each event naming the
-- unit that held the ticket (`from_unit_id`).
INSERT INTO ticket_breaches (ticket_id, unit_id, deadline, at)
SELECT e.ticket_id, e.from_unit_id, CASE e.kind WHEN 'resolve_overdue' THEN 'resolve' ELSE 'accept' END, e.created_at
FROM ticket_events e
WHERE e.kind IN ('auto_escalate', 'accept_overdue', 'resolve_overdue') AND e.from_unit_id IS NOT NULL
ORDER BY e.id;
-- A late sign-for or resolution the worker had not flagged. Any move clears
-- `accepted_at` and a reopening clears `resolved_at`, so a ticket that has
-- them was signed for at its current unit and resolved at its resolving unit,
-- under the deadlines it still carries. (Late actions at units it has since
-- left cannot be told from the stored rows: their deadlines are gone.)
INSERT INTO ticket_breaches (ticket_id, unit_id, deadline, at)
SELECT t.id, t.current_unit_id, 'accept', t.accepted_at
FROM tickets t
WHERE t.accepted_at > t.accept_due_at AND t.accept_breached_at IS NULL
ORDER BY t.id;
INSERT INTO ticket_breaches (ticket_id, unit_id, deadline, at)
SELECT t.id, t.resolved_unit_id, 'resolve', t.resolved_at
FROM tickets t
WHERE t.resolved_at > t.resolve_due_at AND t.resolve_breached_at IS NULL AND t.resolved_unit_id IS NOT NULL
ORDER BY t.id;

-- `ticket_reach.breached` of a (unit, ticket) is now 1 when the ticket missed
-- a deadline while held at that unit or below it: a unit's path lists its
-- ancestors and itself, so the units whose subtree holds a breaching unit are
-- those on its path. Only the rows whose flag changes are written.
UPDATE ticket_reach SET breached = 1 - breached
WHERE breached <> CASE WHEN EXISTS (
        SELECT 1 FROM ticket_breaches b JOIN units u ON u.id = b.unit_id
        WHERE b.ticket_id = ticket_reach.ticket_id AND u.path LIKE ('%/' || ticket_reach.unit_id || '/%'))
    THEN 1 ELSE 0 END;

-- A breach flags the rows of its unit and the units above it.
CREATE TRIGGER ticket_reach_on_breach AFTER INSERT ON ticket_breaches
BEGIN
    UPDATE ticket_reach SET breached = 1
    WHERE ticket_id = NEW.ticket_id AND breached = 0 AND unit_id IN (
        SELECT CAST(a.value AS INTEGER)
        FROM units u
        JOIN json_each('[' || replace(trim(u.path, '/'), '/', ',') || ']') a
        WHERE u.id = NEW.unit_id);
END;

-- A visit adds rows as before, `breached` now read from the breaches.
DROP TRIGGER ticket_reach_on_visit;
CREATE TRIGGER ticket_reach_on_visit AFTER INSERT ON ticket_visits
BEGIN
    INSERT INTO ticket_reach
    SELECT CAST(a.value AS INTEGER), t.created_at, t.id, t.status, t.kind, t.category_id, t.resolved_unit_id,
        CASE WHEN EXISTS (
                SELECT 1 FROM ticket_breaches b JOIN units bu ON bu.id = b.unit_id
                WHERE b.ticket_id = t.id AND bu.path LIKE ('%/' || a.value || '/%'))
            THEN 1 ELSE 0 END,
        CASE WHEN t.reopen_count > 0 THEN 1 ELSE 0 END,
        t.rating,
        (julianday(t.accepted_at) - julianday(t.created_at)) * 24.0,
        (julianday(t.resolved_at) - julianday(t.created_at)) * 24.0
    FROM tickets t
    JOIN units u ON u.id = NEW.unit_id
    JOIN json_each('[' || replace(trim(u.path, '/'), '/', ',') || ']') a
    WHERE t.id = NEW.ticket_id
    ON CONFLICT DO NOTHING;
END;

-- A ticket's own columns no longer decide `breached`: its deadlines and
-- breach flags are left out of the columns that rewrite its rows.
DROP TRIGGER ticket_reach_on_ticket;
CREATE TRIGGER ticket_reach_on_ticket AFTER UPDATE ON tickets
WHEN NEW.created_at IS NOT OLD.created_at OR NEW.status IS NOT OLD.status OR NEW.kind IS NOT OLD.kind
    OR NEW.category_id IS NOT OLD.category_id OR NEW.resolved_unit_id IS NOT OLD.resolved_unit_id
    OR NEW.accepted_at IS NOT OLD.accepted_at OR NEW.resolved_at IS NOT OLD.resolved_at
    OR NEW.reopen_count IS NOT OLD.reopen_count OR NEW.rating IS NOT OLD.rating
BEGIN
    UPDATE ticket_reach SET
        created_at = NEW.created_at,
        status = NEW.status,
        kind = NEW.kind,
        category_id = NEW.category_id,
        resolved_unit_id = NEW.resolved_unit_id,
        reopened = CASE WHEN NEW.reopen_count > 0 THEN 1 ELSE 0 END,
        rating = NEW.rating,
        accept_hours = (julianday(NEW.accepted_at) - julianday(NEW.created_at)) * 24.0,
        resolve_hours = (julianday(NEW.resolved_at) - julianday(NEW.created_at)) * 24.0
    WHERE ticket_id = NEW.id;
END;
