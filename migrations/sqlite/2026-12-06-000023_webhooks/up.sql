-- Webhooks (push relays, SMS gateways, other systems): endpoints an admin
-- registers for a community, and the outbox of deliveries to them. A
-- delivery row is written in the same transaction as the notifications it
-- reports (`service::timeline`), so a committed event is never without it;
-- the delivery worker (`webhooks::deliver`) sends it at least once.
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    community_id BIGINT NOT NULL REFERENCES units (id),
    url TEXT NOT NULL,
    -- The notification kinds it receives, each between commas
    -- (',arrived,resolved,'), so one LIKE picks the endpoints of a kind.
    kinds TEXT NOT NULL,
    description TEXT NOT NULL,
    -- The HMAC-SHA256 key, shown to the admin once; needed to sign.
    secret TEXT NOT NULL,
    -- 'active', 'paused' (by an admin) or 'disabled' (after failing).
    state TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since TIMESTAMP,
    disabled_at TIMESTAMP,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_community_idx ON webhook_endpoints (community_id);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ticket_id BIGINT REFERENCES tickets (id),
    event_id BIGINT REFERENCES ticket_events (id),
    unit_id BIGINT REFERENCES units (id),
    due_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    -- 'pending', 'delivered' or 'failed' (retried for the whole window).
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- A worker sending it holds it until then (a crashed worker's lease runs out).
    leased_until TIMESTAMP,
    last_attempt_at TIMESTAMP,
    last_status INTEGER,
    last_error TEXT,
    delivered_at TIMESTAMP,
    -- The JSON sent, fixed at the first attempt: every retry and
    -- redelivery sends the same body.
    body TEXT
);
-- What is due, and what waits behind an earlier delivery of the same ticket.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (endpoint_id, ticket_id, id) WHERE status = 'pending';
-- An endpoint's delivery log, newest first.
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);

-- Residents' and staff's phones, for push relays: notification webhooks
-- carry their recipients' device tokens.
CREATE TABLE devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    platform TEXT NOT NULL,
    token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX devices_token_idx ON devices (platform, token);
CREATE INDEX devices_user_idx ON devices (user_id);

-- A notification may concern no ticket (a webhook disabled, told to the
-- community's admins): `ticket_id` becomes nullable. SQLite cannot drop a
-- NOT NULL, so the table is rebuilt with its rows and ids.
CREATE TABLE notifications_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    ticket_id BIGINT REFERENCES tickets (id),
    event_id BIGINT REFERENCES ticket_events (id),
    unit_id BIGINT REFERENCES units (id),
    due_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    read_at TIMESTAMP
);
INSERT INTO notifications_new (id, user_id, kind, ticket_id, event_id, unit_id, due_at, created_at, read_at)
SELECT id, user_id, kind, ticket_id, event_id, unit_id, due_at, created_at, read_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_user_idx ON notifications (user_id, id);
CREATE INDEX notifications_unread_idx ON notifications (user_id, id) WHERE read_at IS NULL;
-- What a delivery's recipients are read by: its ticket and event.
CREATE INDEX notifications_ticket_idx ON notifications (ticket_id, id);
