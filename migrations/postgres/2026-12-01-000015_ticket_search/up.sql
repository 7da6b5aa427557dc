-- Text search (`q=`) from an index instead of a scan. Each ticket's search
-- tokens (src/domain/search.rs: Chinese characters and pairs of them,
-- lower-cased words and numbers) are made in Rust whenever what they come
-- from changes (db::tickets::search::reindex) and kept here as one
-- `tsvector`: the tokens of the title, description and location as they
-- are; those of the reporter's name and room after `@` (they match only for
-- callers who may see the reporter); and after `#` who may list the ticket
-- (`c<community>`, `u<unit>` for each unit it has been at, `r<reporter>`,
-- `p<party>`). One GIN index over all of them, so that one scan intersects
-- a search with a caller's scope, driven by the rarest token.
-- `array_to_tsvector` takes each token verbatim: no parser or dictionary
-- stands between the tokenizer and the index. Only SQL reads this table
-- (diesel has no tsvector); SQLite's counterpart is an FTS5 table of the
-- same name.
CREATE TABLE ticket_search (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets (id),
    tokens tsvector NOT NULL
);
CREATE INDEX ticket_search_tokens_idx ON ticket_search USING gin (tokens);

-- SQL cannot run the tokenizer: tickets already filed get their tokens at
-- start-up (db::tickets::search::backfill), newest first, in batches. This
-- marks where that walk starts; it moves down as batches commit and is
-- removed when the oldest ticket is done.
INSERT INTO settings (key, value, created_at)
SELECT 'ticket_search_backfill_below', CAST(MAX(id) + 1 AS TEXT), now() AT TIME ZONE 'UTC'
FROM tickets
HAVING COUNT(*) > 0;
