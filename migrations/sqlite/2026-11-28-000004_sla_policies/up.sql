-- Deadline rules (时限): hours to sign for and to resolve, by level, category
-- and priority. The most specific matching rule wins; without one, the
-- category's own hours apply.
CREATE TABLE sla_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    level TEXT CHECK (level IN ('committee', 'branch', 'building', 'household')),
    category_id BIGINT REFERENCES categories (id),
    priority TEXT CHECK (priority IN ('urgent', 'normal', 'low')),
    accept_hours INTEGER NOT NULL CHECK (accept_hours > 0),
    resolve_hours INTEGER NOT NULL CHECK (resolve_hours >= accept_hours),
    created_at TIMESTAMP NOT NULL,
    CHECK (level IS NOT NULL OR category_id IS NOT NULL OR priority IS NOT NULL)
);
