-- Back to `breached` computed from the ticket's current columns (000009).
DROP TRIGGER ticket_reach_on_breach;
DROP TRIGGER ticket_reach_on_ticket;
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
DROP TRIGGER ticket_reach_on_visit;
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
UPDATE ticket_reach SET breached = (
    SELECT CASE WHEN t.accept_breached_at IS NOT NULL OR t.resolve_breached_at IS NOT NULL
        OR t.accepted_at > t.accept_due_at OR t.resolved_at > t.resolve_due_at THEN 1 ELSE 0 END
    FROM tickets t WHERE t.id = ticket_reach.ticket_id);
DROP TABLE ticket_breaches;
