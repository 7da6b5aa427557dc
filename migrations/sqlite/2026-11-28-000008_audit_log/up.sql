-- The audit trail: every staff and admin write, and every admin read of
-- personal data. Append-only: the database refuses to change or remove a row.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TIMESTAMP NOT NULL,
    request_id TEXT NOT NULL,
    actor_id BIGINT NOT NULL REFERENCES users (id),
    actor_role TEXT NOT NULL,
    -- The actor's community (from their posts); NULL for super-admins.
    community_id BIGINT REFERENCES units (id),
    kind TEXT NOT NULL CHECK (kind IN ('write', 'read')),
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL
);
CREATE INDEX audit_log_community_idx ON audit_log (community_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
