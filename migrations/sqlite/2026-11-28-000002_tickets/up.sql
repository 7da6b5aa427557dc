-- Complaints and disputes: the category catalogue, tickets, their timeline,
-- the units they passed through, dispute parties, and idempotent creates.

CREATE TABLE categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('complaint', 'dispute')),
    entry_level TEXT NOT NULL CHECK (entry_level IN ('committee', 'branch', 'building', 'household')),
    accept_hours INTEGER NOT NULL CHECK (accept_hours > 0),
    resolve_hours INTEGER NOT NULL CHECK (resolve_hours > 0),
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX categories_code_key ON categories (code);

INSERT INTO categories (code, name_zh, name_en, kind, entry_level, accept_hours, resolve_hours, active, created_at, updated_at) VALUES
    ('sanitation', '环境卫生', 'Sanitation', 'complaint', 'household', 24, 72, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('ebike_safety', '电动车安全', 'E-bike safety', 'complaint', 'building', 12, 48, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('charging_pile', '充电桩安装', 'Charging piles', 'complaint', 'branch', 48, 240, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('noise', '噪音扰民', 'Noise', 'complaint', 'household', 24, 72, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('leak', '楼上楼下漏水', 'Leak between floors', 'complaint', 'building', 24, 120, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('parking', '停车', 'Parking', 'complaint', 'branch', 24, 120, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('property_management', '物业服务', 'Property management', 'complaint', 'branch', 24, 168, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('public_facilities', '公共设施维修', 'Public facilities repair', 'complaint', 'building', 24, 120, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('elder_care', '养老服务', 'Elder care', 'complaint', 'committee', 48, 168, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('childcare', '托育入学', 'Childcare and school places', 'complaint', 'committee', 48, 240, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('safety_hazard', '安全隐患', 'Safety hazard', 'complaint', 'committee', 4, 24, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('neighbour_dispute', '邻里纠纷', 'Neighbour dispute', 'dispute', 'building', 24, 168, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('owners_dispute', '业主矛盾纠纷', 'Owners'' dispute', 'dispute', 'branch', 48, 336, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('other', '其他', 'Other', 'complaint', 'building', 48, 168, TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('complaint', 'dispute')),
    category_id BIGINT NOT NULL REFERENCES categories (id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    location TEXT,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    anonymous BOOLEAN NOT NULL,
    priority TEXT NOT NULL CHECK (priority IN ('urgent', 'normal', 'low')),
    reporter_id BIGINT NOT NULL REFERENCES users (id),
    -- Staff who filed it for a resident who came in or phoned.
    filed_by_id BIGINT REFERENCES users (id),
    community_id BIGINT NOT NULL REFERENCES units (id),
    current_unit_id BIGINT NOT NULL REFERENCES units (id),
    status TEXT NOT NULL CHECK (status IN ('assigned', 'accepted', 'resolved', 'closed', 'withdrawn', 'rejected', 'referred', 'merged')),
    accept_due_at TIMESTAMP NOT NULL,
    resolve_due_at TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP,
    resolved_at TIMESTAMP,
    closed_at TIMESTAMP,
    resolution TEXT,
    resolved_unit_id BIGINT REFERENCES units (id),
    rating INTEGER CHECK (rating BETWEEN 1 AND 5),
    feedback TEXT,
    bounce_count INTEGER NOT NULL DEFAULT 0,
    escalation_count INTEGER NOT NULL DEFAULT 0,
    reopen_count INTEGER NOT NULL DEFAULT 0,
    -- Where an escalated or dispatched ticket came from: `return` sends it there.
    arrived_from_unit_id BIGINT REFERENCES units (id),
    merged_into_id BIGINT REFERENCES tickets (id),
    referred_to TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- Lists are newest first by id; each filter has an index ending in id.
CREATE INDEX tickets_status_idx ON tickets (status, id);
CREATE INDEX tickets_kind_idx ON tickets (kind, id);
CREATE INDEX tickets_category_idx ON tickets (category_id, id);
CREATE INDEX tickets_current_unit_idx ON tickets (current_unit_id, id);
CREATE INDEX tickets_reporter_idx ON tickets (reporter_id, id);
CREATE INDEX tickets_community_idx ON tickets (community_id, id);
CREATE INDEX tickets_created_at_idx ON tickets (created_at, id);
CREATE INDEX tickets_updated_at_idx ON tickets (updated_at, id);
CREATE INDEX tickets_accept_due_idx ON tickets (status, accept_due_at);
CREATE INDEX tickets_resolve_due_idx ON tickets (status, resolve_due_at);
CREATE INDEX tickets_merged_into_idx ON tickets (merged_into_id);

-- Every unit a ticket has been at: staff there may still read it.
CREATE TABLE ticket_visits (
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    unit_id BIGINT NOT NULL REFERENCES units (id),
    PRIMARY KEY (ticket_id, unit_id)
);
CREATE INDEX ticket_visits_unit_idx ON ticket_visits (unit_id, ticket_id);

-- The append-only timeline: transitions, comments, system actions.
CREATE TABLE ticket_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    kind TEXT NOT NULL,
    actor_id BIGINT REFERENCES users (id),
    from_status TEXT,
    to_status TEXT,
    from_unit_id BIGINT REFERENCES units (id),
    to_unit_id BIGINT REFERENCES units (id),
    note TEXT,
    internal BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, id);

CREATE TABLE dispute_parties (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    role TEXT NOT NULL CHECK (role IN ('applicant', 'respondent')),
    user_id BIGINT REFERENCES users (id),
    name TEXT NOT NULL,
    phone TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX dispute_parties_ticket_idx ON dispute_parties (ticket_id);
CREATE INDEX dispute_parties_user_idx ON dispute_parties (user_id, ticket_id);

-- `Idempotency-Key` on creates: the first response, replayed for 24 hours.
CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users (id),
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    location TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
