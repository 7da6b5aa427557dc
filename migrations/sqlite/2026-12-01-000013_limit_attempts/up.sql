-- Attempts counted against a limit (failed sign-ins per account and per
-- client address, wrong current passwords, registrations per address). Kept
-- in the database so every replica counts the same attempts. Keys are
-- stored only as a keyed SHA-256 (no usernames or addresses at rest); rows
-- older than the longest window are pruned by the deadline worker.
CREATE TABLE limit_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    attempted_at TIMESTAMP NOT NULL
);
CREATE INDEX limit_attempts_key_idx ON limit_attempts (scope, key_hash, attempted_at);
CREATE INDEX limit_attempts_attempted_at_idx ON limit_attempts (attempted_at);
