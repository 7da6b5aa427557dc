-- The status a request answered, where it differs from the one its audit
-- row holds. A change's row is written in the change's own transaction,
-- before the answer exists, with the status the operation documents for
-- success; when the answer then differs (the other of two documented
-- success statuses, or a failure after the commit), that status is
-- appended here, so the row itself is never changed. Append-only, like the
-- trail.
CREATE TABLE audit_answers (
    audit_id BIGINT NOT NULL PRIMARY KEY REFERENCES audit_log (id),
    status INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TRIGGER audit_answers_no_update BEFORE UPDATE ON audit_answers
BEGIN
    SELECT RAISE(ABORT, 'audit_answers is append-only');
END;
CREATE TRIGGER audit_answers_no_delete BEFORE DELETE ON audit_answers
BEGIN
    SELECT RAISE(ABORT, 'audit_answers is append-only');
END;
