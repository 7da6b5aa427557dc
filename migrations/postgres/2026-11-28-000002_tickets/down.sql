DROP TABLE idempotency_keys;
DROP TABLE dispute_parties;
DROP TABLE ticket_events;
DROP TABLE ticket_visits;
DROP TABLE tickets;
DROP TABLE categories;
