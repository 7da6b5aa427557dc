-- The tickets whose clock runs (assigned, accepted), newest first, with
-- their community and deadlines: `overdue=true` walks this instead of
-- every ticket. A busy community files a ticket a minute or more, so the
-- newest tickets are not overdue yet, and a walk over all tickets passes
-- hundreds of them (1,000 rows at 1,000,000 tickets, against 91 at
-- 10,000) before a page of overdue ones is found; here it passes only
-- the open ones, without reading their rows.
CREATE INDEX tickets_open_idx ON tickets (id, community_id, status, accept_due_at, resolve_due_at)
    WHERE status IN ('assigned', 'accepted');
