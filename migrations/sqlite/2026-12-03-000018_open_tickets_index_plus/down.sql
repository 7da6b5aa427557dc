DROP INDEX tickets_open_idx;
CREATE INDEX tickets_open_idx ON tickets (id, community_id, status, accept_due_at, resolve_due_at)
    WHERE status IN ('assigned', 'accepted');
