-- Nothing on SQLite: its FTS5 index is walked newest first and needs no
-- buckets (PostgreSQL's migration 000025 adds them to its GIN index).
SELECT 1;
