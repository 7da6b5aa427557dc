ALTER TABLE refresh_tokens DROP COLUMN sealed_successor;
