-- Nothing changes on SQLite: PostgreSQL's GIN index of search tokens gets
-- a small pending list (see migrations/postgres); SQLite's FTS5 table has
-- none. Kept so that both databases count the same migrations.
SELECT 1;
