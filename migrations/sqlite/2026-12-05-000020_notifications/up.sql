-- What each person is told: written in the same transaction as the
-- timeline event that causes it (`service::timeline`). A row names its
-- ticket, a unit and a deadline, never a person or anyone's text, so it
-- shows its recipient nothing the ticket would not.
CREATE TABLE notifications (
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
-- A person's feed, newest first, and their unread ones (the count, `unread=true`).
CREATE INDEX notifications_user_idx ON notifications (user_id, id);
CREATE INDEX notifications_unread_idx ON notifications (user_id, id) WHERE read_at IS NULL;
