-- Every ticket's text and reporter tokens gain a twin inside its id's
-- bucket of 1,000: `%<id / 1000>/<token>` (`db::tickets::search::BUCKET`,
-- `twin_token`). GIN asked for a twin reads only the word's hits in that
-- bucket, so the newest hits of a common word cost those hits, not a
-- bucket's every ticket. New tokens carry them from the code; this adds
-- them to the rows there are (about three minutes a million tickets here,
-- with the vacuum after). The `#b` bucket tokens of migration 000025 are
-- no longer asked: they stay on the rows that have them.
UPDATE ticket_search SET tokens = tokens || array_to_tsvector(ARRAY(
    SELECT '%' || (ticket_id / 1000)::text || '/' || t
    FROM unnest(tsvector_to_array(tokens)) AS t
    WHERE left(t, 1) NOT IN ('#', '%')
));
