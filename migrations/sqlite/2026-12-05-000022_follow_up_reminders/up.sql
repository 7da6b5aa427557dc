-- The deadline worker tells the unit holding a settled dispute when its
-- follow-up visit (履行回访) falls due, once per due date: `reminded_due`
-- holds the due date it told of, so a rescheduled visit is told of again.
ALTER TABLE follow_ups ADD COLUMN reminded_due TIMESTAMP;
