-- Back to `breached` computed from the ticket's current columns (000009).
DROP TRIGGER ticket_reach_on_breach ON ticket_breaches;
DROP FUNCTION ticket_reach_add_breach();
CREATE OR REPLACE FUNCTION ticket_reach_update_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
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
        accept_hours = EXTRACT(EPOCH FROM (NEW.accepted_at - NEW.created_at))::float8 / 3600.0,
        resolve_hours = EXTRACT(EPOCH FROM (NEW.resolved_at - NEW.created_at))::float8 / 3600.0
    WHERE ticket_id = NEW.id;
    RETURN NULL;
END;
$$;
DROP TRIGGER ticket_reach_on_ticket ON tickets;
CREATE TRIGGER ticket_reach_on_ticket AFTER UPDATE ON tickets
    FOR EACH ROW
    WHEN ((OLD.created_at, OLD.status, OLD.kind, OLD.category_id, OLD.resolved_unit_id, OLD.accepted_at,
           OLD.resolved_at, OLD.accept_due_at, OLD.resolve_due_at, OLD.accept_breached_at,
           OLD.resolve_breached_at, OLD.reopen_count, OLD.rating)
          IS DISTINCT FROM
          (NEW.created_at, NEW.status, NEW.kind, NEW.category_id, NEW.resolved_unit_id, NEW.accepted_at,
           NEW.resolved_at, NEW.accept_due_at, NEW.resolve_due_at, NEW.accept_breached_at,
           NEW.resolve_breached_at, NEW.reopen_count, NEW.rating))
    EXECUTE FUNCTION ticket_reach_update_ticket();
CREATE OR REPLACE FUNCTION ticket_reach_add_visit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_reach
    SELECT CAST(x AS BIGINT), t.created_at, t.id, t.status, t.kind, t.category_id, t.resolved_unit_id,
        CASE WHEN t.accept_breached_at IS NOT NULL OR t.resolve_breached_at IS NOT NULL
            OR t.accepted_at > t.accept_due_at OR t.resolved_at > t.resolve_due_at THEN 1 ELSE 0 END,
        CASE WHEN t.reopen_count > 0 THEN 1 ELSE 0 END,
        t.rating,
        EXTRACT(EPOCH FROM (t.accepted_at - t.created_at))::float8 / 3600.0,
        EXTRACT(EPOCH FROM (t.resolved_at - t.created_at))::float8 / 3600.0
    FROM tickets t, units u, unnest(string_to_array(trim(BOTH '/' FROM u.path), '/')) x
    WHERE t.id = NEW.ticket_id AND u.id = NEW.unit_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
UPDATE ticket_reach r SET breached = CASE WHEN t.accept_breached_at IS NOT NULL OR t.resolve_breached_at IS NOT NULL
        OR t.accepted_at > t.accept_due_at OR t.resolved_at > t.resolve_due_at THEN 1 ELSE 0 END
FROM tickets t WHERE t.id = r.ticket_id;
DROP TABLE ticket_breaches;
