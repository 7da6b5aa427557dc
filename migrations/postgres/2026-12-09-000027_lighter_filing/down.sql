DROP INDEX ticket_reach_accept_hours_idx;
DROP INDEX ticket_reach_resolve_hours_idx;
DROP INDEX tickets_merged_into_idx;
CREATE INDEX ticket_reach_accept_hours_idx ON ticket_reach (unit_id, accept_hours, created_at);
CREATE INDEX ticket_reach_resolve_hours_idx ON ticket_reach (unit_id, resolve_hours, created_at);
CREATE INDEX tickets_merged_into_idx ON tickets (merged_into_id);

ALTER TABLE notifications
    ADD CONSTRAINT notifications_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    ADD CONSTRAINT notifications_unit_id_fkey FOREIGN KEY (unit_id) REFERENCES units (id);
ALTER TABLE ticket_events
    ADD CONSTRAINT ticket_events_actor_id_fkey FOREIGN KEY (actor_id) REFERENCES users (id),
    ADD CONSTRAINT ticket_events_from_unit_id_fkey FOREIGN KEY (from_unit_id) REFERENCES units (id),
    ADD CONSTRAINT ticket_events_to_unit_id_fkey FOREIGN KEY (to_unit_id) REFERENCES units (id);
ALTER TABLE audit_log
    ADD CONSTRAINT audit_log_actor_id_fkey FOREIGN KEY (actor_id) REFERENCES users (id),
    ADD CONSTRAINT audit_log_community_id_fkey FOREIGN KEY (community_id) REFERENCES units (id);
