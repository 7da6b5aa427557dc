DROP INDEX notifications_ticket_idx;
DELETE FROM notifications WHERE ticket_id IS NULL;
ALTER TABLE notifications ALTER COLUMN ticket_id SET NOT NULL;
DROP TABLE devices;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
