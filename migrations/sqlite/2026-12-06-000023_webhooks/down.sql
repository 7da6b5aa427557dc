DELETE FROM notifications WHERE ticket_id IS NULL;
CREATE TABLE notifications_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    event_id BIGINT REFERENCES ticket_events (id),
    unit_id BIGINT REFERENCES units (id),
    due_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    read_at TIMESTAMP
);
INSERT INTO notifications_old (id, user_id, kind, ticket_id, event_id, unit_id, due_at, created_at, read_at)
SELECT id, user_id, kind, ticket_id, event_id, unit_id, due_at, created_at, read_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_old RENAME TO notifications;
CREATE INDEX notifications_user_idx ON notifications (user_id, id);
CREATE INDEX notifications_unread_idx ON notifications (user_id, id) WHERE read_at IS NULL;
DROP TABLE devices;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
