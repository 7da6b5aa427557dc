-- Nothing changes on PostgreSQL: SQLite's tickets_open_idx takes its
-- condition as `+status IN (...)` (see migrations/sqlite), which
-- PostgreSQL has no use for (its planner does not seek by the term alone,
-- and `+` is no operator on text). Kept so that both databases count the
-- same migrations.
SELECT 1;
