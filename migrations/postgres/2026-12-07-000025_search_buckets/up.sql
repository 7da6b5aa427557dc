-- Every ticket's search tokens gain its bucket's: `#b<id / 10000>`
-- (`db::tickets::search::BUCKET`). GIN answers "a word and this bucket"
-- at the cost of the rarer of the two, so a search reads the newest hits
-- of a common word from the newest buckets instead of all of its hits.
-- New tokens carry it from the code; this adds it to the rows there are
-- (about a minute a million tickets).
UPDATE ticket_search SET tokens = tokens || array_to_tsvector(ARRAY['#b' || (ticket_id / 10000)::text]);
