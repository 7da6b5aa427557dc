DROP INDEX tickets_resolve_hours_idx;
DROP INDEX tickets_accept_hours_idx;
DROP INDEX tickets_stats_idx;
