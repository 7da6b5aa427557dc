-- Text search (`q=`) from an index instead of a scan. Each ticket's search
-- tokens (src/domain/search.rs: Chinese characters and pairs of them,
-- lower-cased words and numbers) are made in Rust whenever what they come
-- from changes (db::tickets::search::reindex), in three columns: `body`
-- from the title, description and location; `reporter` from the
-- reporter's name and room, which match only for callers who may see the
-- reporter; `scope`, who may list the ticket (`c<community>`, `u<unit>` for
-- each unit it has been at, `r<reporter>`, `p<party>`), so that a narrow
-- list intersects inside the index. Contentless: SQLite keeps only the
-- index (the texts are in `tickets`); the `ascii` tokenizer splits on the
-- spaces between tokens and nothing else; `detail=column` keeps which
-- column a token is in, not where. The rowid is the ticket's id.
CREATE VIRTUAL TABLE ticket_search USING fts5 (
    body,
    reporter,
    scope,
    content = '',
    contentless_delete = 1,
    tokenize = 'ascii',
    detail = 'column'
);

-- SQL cannot run the tokenizer: tickets already filed get their tokens at
-- start-up (db::tickets::search::backfill), newest first, in batches. This
-- marks where that walk starts; it moves down as batches commit and is
-- removed when the oldest ticket is done.
INSERT INTO settings (key, value, created_at)
SELECT 'ticket_search_backfill_below', CAST(MAX(id) + 1 AS TEXT), CURRENT_TIMESTAMP
FROM tickets
HAVING COUNT(*) > 0;
