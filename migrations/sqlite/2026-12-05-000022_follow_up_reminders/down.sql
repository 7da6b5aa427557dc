ALTER TABLE follow_ups DROP COLUMN reminded_due;
