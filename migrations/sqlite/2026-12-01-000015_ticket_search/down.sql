DELETE FROM settings WHERE key = 'ticket_search_backfill_below';
DROP TABLE ticket_search;
