-- People's mediation (人民调解): a dispute's sessions, its agreement
-- (调解协议), and the follow-up visits (履行回访) an agreement starts.

-- How a dispute ended: `settled` when resolved under an agreement,
-- `not_settled` when referred outside the grid. NULL for complaints and
-- for disputes still open.
ALTER TABLE tickets ADD COLUMN outcome TEXT CHECK (outcome IN ('settled', 'not_settled'));

CREATE TABLE mediation_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    held_at TIMESTAMP NOT NULL,
    mediator_id BIGINT NOT NULL REFERENCES users (id),
    summary TEXT NOT NULL,
    outcome TEXT CHECK (outcome IN ('settled', 'not_settled')),
    recorded_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mediation_sessions_ticket_idx ON mediation_sessions (ticket_id, held_at, id);

-- One agreement per dispute; revising it keeps the earlier text on the timeline.
CREATE TABLE dispute_agreements (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets (id),
    terms TEXT NOT NULL,
    performance_deadline TIMESTAMP NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- A follow-up falls due 30 days after the agreement; recording it closes it.
CREATE TABLE follow_ups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    due_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP,
    recorded_by BIGINT REFERENCES users (id),
    result TEXT CHECK (result IN ('fulfilled', 'partly_fulfilled', 'not_fulfilled')),
    note TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX follow_ups_ticket_idx ON follow_ups (ticket_id, id);
CREATE INDEX follow_ups_open_idx ON follow_ups (due_at) WHERE recorded_at IS NULL;
