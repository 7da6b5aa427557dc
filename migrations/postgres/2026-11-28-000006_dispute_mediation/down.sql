DROP TABLE follow_ups;
DROP TABLE dispute_agreements;
DROP TABLE mediation_sessions;
ALTER TABLE tickets DROP COLUMN outcome;
