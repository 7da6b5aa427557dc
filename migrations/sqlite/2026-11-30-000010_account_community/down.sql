DROP INDEX users_last_community_id_idx;
ALTER TABLE users DROP COLUMN last_community_id;
