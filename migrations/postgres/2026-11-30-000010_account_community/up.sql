-- The community a staff or admin account last served, kept when its last
-- post is removed: that community's admins still list it (an admin must not
-- lose sight of a staff member by removing their last post). No foreign
-- key: SQLite cannot drop a column that has one, and the id of a community
-- that is gone simply matches nothing.
ALTER TABLE users ADD COLUMN last_community_id BIGINT;
CREATE INDEX users_last_community_id_idx ON users (last_community_id);
