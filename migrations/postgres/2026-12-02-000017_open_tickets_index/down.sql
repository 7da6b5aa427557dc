DROP INDEX tickets_open_idx;
