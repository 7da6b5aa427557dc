ALTER TABLE tickets DROP COLUMN resolve_warned_due;
ALTER TABLE tickets DROP COLUMN accept_warned_due;
ALTER TABLE tickets DROP COLUMN arrived_at;
