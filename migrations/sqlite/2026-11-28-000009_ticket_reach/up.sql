-- Statistics read one narrow row per ticket per unit it has reached: the
-- units it has been at and their ancestors (read off `units.path`). A subtree's
-- statistics are then the rows of its root unit, with no join to visits or
-- tickets. Visited units cannot move, so a ticket's set of units only grows.
-- Triggers keep the rows right for every writer: a new visit adds the missing
-- units, a change to a counted column of the ticket rewrites its rows.
-- The expressions must stay identical to the definitions in `db::stats`.
-- Without rowid, the table is its key: a period of one unit (or of several,
-- for a league table) is a range of it, with every column at hand.
CREATE TABLE ticket_reach (
    unit_id BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    ticket_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    category_id BIGINT NOT NULL,
    resolved_unit_id BIGINT,
    -- 1 when a deadline to sign for or to resolve was missed.
    breached INTEGER NOT NULL,
    -- 1 when reopened at least once.
    reopened INTEGER NOT NULL,
    rating INTEGER,
    -- Hours from filing to the (last) sign-for and to resolution.
    accept_hours DOUBLE PRECISION,
    resolve_hours DOUBLE PRECISION,
    PRIMARY KEY (unit_id, created_at, ticket_id)
) WITHOUT ROWID;

-- The rows a ticket has now (same expressions as in the triggers below).
INSERT INTO ticket_reach
SELECT r.unit_id, t.created_at, t.id, t.status, t.kind, t.category_id, t.resolved_unit_id,
    CASE WHEN t.accept_breached_at IS NOT NULL OR t.resolve_breached_at IS NOT NULL
        OR t.accepted_at > t.accept_due_at OR t.resolved_at > t.resolve_due_at THEN 1 ELSE 0 END,
    CASE WHEN t.reopen_count > 0 THEN 1 ELSE 0 END,
    t.rating,
    (julianday(t.accepted_at) - julianday(t.created_at)) * 24.0,
    (julianday(t.resolved_at) - julianday(t.created_at)) * 24.0
FROM (SELECT DISTINCT v.ticket_id AS ticket_id, CAST(a.value AS INTEGER) AS unit_id
      FROM ticket_visits v
      JOIN units u ON u.id = v.unit_id
      JOIN json_each('[' || replace(trim(u.path, '/'), '/', ',') || ']') a) r
JOIN tickets t ON t.id = r.ticket_id
ORDER BY r.unit_id, t.created_at, t.id;

-- A ticket's rows, for the update trigger.
CREATE INDEX ticket_reach_ticket_idx ON ticket_reach (ticket_id);
-- Percentiles: each duration in order, per unit. A median or 90th percentile
-- is read by walking to its rank instead of sorting every value.
CREATE INDEX ticket_reach_accept_hours_idx ON ticket_reach (unit_id, accept_hours, created_at);
CREATE INDEX ticket_reach_resolve_hours_idx ON ticket_reach (unit_id, resolve_hours, created_at);

CREATE TRIGGER ticket_reach_on_visit AFTER INSERT ON ticket_visits
BEGIN
    INSERT INTO ticket_reach
    SELECT CAST(a.value AS INTEGER), t.created_at, t.id, t.status, t.kind, t.category_id, t.resolved_unit_id,
        CASE WHEN t.accept_breached_at IS NOT NULL OR t.resolve_breached_at IS NOT NULL
            OR t.accepted_at > t.accept_due_at OR t.resolved_at > t.resolve_due_at THEN 1 ELSE 0 END,
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

-- Only when something counted changed: most writes (comments, versions,
-- current unit) leave the rows as they are.
CREATE TRIGGER ticket_reach_on_ticket AFTER UPDATE ON tickets
WHEN NEW.created_at IS NOT OLD.created_at OR NEW.status IS NOT OLD.status OR NEW.kind IS NOT OLD.kind
    OR NEW.category_id IS NOT OLD.category_id OR NEW.resolved_unit_id IS NOT OLD.resolved_unit_id
    OR NEW.accepted_at IS NOT OLD.accepted_at OR NEW.resolved_at IS NOT OLD.resolved_at
    OR NEW.accept_due_at IS NOT OLD.accept_due_at OR NEW.resolve_due_at IS NOT OLD.resolve_due_at
    OR NEW.accept_breached_at IS NOT OLD.accept_breached_at OR NEW.resolve_breached_at IS NOT OLD.resolve_breached_at
    OR NEW.reopen_count IS NOT OLD.reopen_count OR NEW.rating IS NOT OLD.rating
BEGIN
    UPDATE ticket_reach SET
        created_at = NEW.created_at,
        status = NEW.status,
        kind = NEW.kind,
        category_id = NEW.category_id,
        resolved_unit_id = NEW.resolved_unit_id,
        breached = CASE WHEN NEW.accept_breached_at IS NOT NULL OR NEW.resolve_breached_at IS NOT NULL
            OR NEW.accepted_at > NEW.accept_due_at OR NEW.resolved_at > NEW.resolve_due_at THEN 1 ELSE 0 END,
        reopened = CASE WHEN NEW.reopen_count > 0 THEN 1 ELSE 0 END,
        rating = NEW.rating,
        accept_hours = (julianday(NEW.accepted_at) - julianday(NEW.created_at)) * 24.0,
        resolve_hours = (julianday(NEW.resolved_at) - julianday(NEW.created_at)) * 24.0
    WHERE ticket_id = NEW.id;
END;

-- Statistics no longer read these (migration 000007).
DROP INDEX tickets_stats_idx;
DROP INDEX tickets_accept_hours_idx;
DROP INDEX tickets_resolve_hours_idx;
