-- A GIN index queues new entries in a pending list (up to
-- gin_pending_list_limit, 4 MB by default) and every search reads the whole
-- list: after the demo's 10,000 filings it held 8,284 entries on 380 pages,
-- and `q=` that matched nothing took 5 ms in the index instead of 0.1 ms.
-- 64 kB (the least allowed) keeps a search's extra reading to 8 pages; a
-- filing that fills the list merges it into the index.
ALTER INDEX ticket_search_tokens_idx SET (gin_pending_list_limit = 64);
SELECT gin_clean_pending_list('ticket_search_tokens_idx');
