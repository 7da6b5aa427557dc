-- Sessions are now stored under the SHA-256 of their secret (the `sid` an
-- access token carries), never the secret itself, so a copy of the
-- database, even with the JWT key, cannot be presented as a live session.
-- Refresh tokens now start with that secret (`<secret>.<random>`).
-- Existing rows hold plaintext ids, and SQLite cannot compute SHA-256 in a
-- migration: every existing session ends here, and everyone signs in once
-- more. No column changes: `sessions.id` and `refresh_tokens.session_id`
-- keep their names and now hold the hash.
DELETE FROM refresh_tokens;
DELETE FROM sessions;
