-- Nothing on SQLite: its FTS5 index is walked newest first and needs no
-- twins (PostgreSQL's migration 000026 adds them to its GIN index).
SELECT 1;
