-- The four-level community grid, accounts, posts and sessions.
-- Ids are 64-bit; timestamps are UTC.

CREATE TABLE units (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id BIGINT REFERENCES units (id),
    level TEXT NOT NULL CHECK (level IN ('committee', 'branch', 'building', 'household')),
    name TEXT NOT NULL,
    code TEXT,
    -- Materialised path of ancestor ids, e.g. '/1/4/9/': a subtree is a prefix match.
    path TEXT NOT NULL COLLATE NOCASE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((level = 'committee') = (parent_id IS NULL))
);
CREATE UNIQUE INDEX units_code_key ON units (code);
CREATE INDEX units_parent_id_idx ON units (parent_id);
CREATE INDEX units_path_idx ON units (path);
CREATE INDEX units_level_idx ON units (level, id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    phone TEXT,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('resident', 'staff', 'admin', 'superadmin')),
    active BOOLEAN NOT NULL DEFAULT 1,
    token_version BIGINT NOT NULL DEFAULT 0,
    building_id BIGINT REFERENCES units (id),
    room TEXT,
    household_id BIGINT REFERENCES units (id),
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((role = 'resident') = (building_id IS NOT NULL AND room IS NOT NULL))
);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE INDEX users_building_id_idx ON users (building_id);
CREATE INDEX users_household_id_idx ON users (household_id);
CREATE INDEX users_created_by_idx ON users (created_by);
CREATE INDEX users_role_idx ON users (role, id);

CREATE TABLE posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    unit_id BIGINT NOT NULL REFERENCES units (id),
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX posts_user_unit_key ON posts (user_id, unit_id);
CREATE INDEX posts_unit_id_idx ON posts (unit_id);

-- One login = one session (a refresh-token family). Access tokens carry the
-- session id, so revoking a session ends its access tokens at once.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    token_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
