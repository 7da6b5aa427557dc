-- Statistics read one narrow row per ticket per unit it has reached: the
-- units it has been at and their ancestors (read off `units.path`). A subtree's
-- statistics are then the rows of its root unit, with no join to visits or
-- tickets. Visited units cannot move, so a ticket's set of units only grows.
-- Triggers keep the rows right for every writer: a new visit adds the missing
-- units, a change to a counted column of the ticket rewrites its rows.
-- The expressions must stay identical to the definitions in `db::stats`.
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
    resolve_hours DOUBLE PRECISION
);

-- The rows a ticket has now (same expressions as in the triggers below).
INSERT INTO ticket_reach
SELECT r.unit_id, t.created_at, t.id, t.status, t.kind, t.category_id, t.resolved_unit_id,
    CASE WHEN t.accept_breached_at IS NOT NULL OR t.resolve_breached_at IS NOT NULL
        OR t.accepted_at > t.accept_due_at OR t.resolved_at > t.resolve_due_at THEN 1 ELSE 0 END,
    CASE WHEN t.reopen_count > 0 THEN 1 ELSE 0 END,
    t.rating,
    EXTRACT(EPOCH FROM (t.accepted_at - t.created_at))::float8 / 3600.0,
    EXTRACT(EPOCH FROM (t.resolved_at - t.created_at))::float8 / 3600.0
FROM (SELECT DISTINCT v.ticket_id, a.unit_id
      FROM ticket_visits v
      JOIN (SELECT u.id, CAST(x AS BIGINT) AS unit_id
            FROM units u, unnest(string_to_array(trim(BOTH '/' FROM u.path), '/')) x) a ON a.id = v.unit_id) r
JOIN tickets t ON t.id = r.ticket_id;

-- A period of one unit (or of several, for a league table) is a range of this
-- key, and every column read is in the index: index-only scans.
ALTER TABLE ticket_reach ADD PRIMARY KEY (unit_id, created_at, ticket_id)
    INCLUDE (status, kind, category_id, resolved_unit_id, breached, reopened, rating, accept_hours, resolve_hours);
-- A ticket's rows, for the update trigger.
CREATE INDEX ticket_reach_ticket_idx ON ticket_reach (ticket_id);
-- Percentiles: each duration in order, per unit. A median or 90th percentile
-- is read by walking to its rank instead of sorting every value.
CREATE INDEX ticket_reach_accept_hours_idx ON ticket_reach (unit_id, accept_hours, created_at);
CREATE INDEX ticket_reach_resolve_hours_idx ON ticket_reach (unit_id, resolve_hours, created_at);

CREATE FUNCTION ticket_reach_add_visit() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER ticket_reach_on_visit AFTER INSERT ON ticket_visits
    FOR EACH ROW EXECUTE FUNCTION ticket_reach_add_visit();

CREATE FUNCTION ticket_reach_update_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
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
-- Only when something counted changed: most writes (comments, versions,
-- current unit) leave the rows as they are.
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

-- Statistics no longer read these (migration 000007).
DROP INDEX tickets_stats_idx;
DROP INDEX tickets_accept_hours_idx;
DROP INDEX tickets_resolve_hours_idx;
