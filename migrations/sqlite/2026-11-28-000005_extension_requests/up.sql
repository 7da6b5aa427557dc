-- Deadline extensions (延期申请): the handling unit asks, the level above decides.
CREATE TABLE extension_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    unit_id BIGINT NOT NULL REFERENCES units (id),
    requested_by BIGINT NOT NULL REFERENCES users (id),
    hours INTEGER NOT NULL CHECK (hours BETWEEN 1 AND 720),
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMP,
    decision_note TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX extension_requests_ticket_idx ON extension_requests (ticket_id, id);
CREATE INDEX extension_requests_pending_idx ON extension_requests (unit_id) WHERE status = 'pending';
