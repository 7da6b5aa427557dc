-- Every ticket's text and reporter tokens gain a twin inside its id's
-- twin bucket: `%<id / 1000>/<token>` (`db::tickets::search::TWIN_BUCKET`),
-- but for single ideographs. The same rule as
-- `db::tickets::search::has_twin`: a token (after a reporter's `@`) of two
-- characters or more, or one ASCII letter or digit. GIN asked for a twin
-- reads only the word's hits in that bucket, so the newest hits of a
-- common word cost those hits, not a bucket's every ticket. New tokens
-- carry them from the code; this adds them to the rows there are (about
-- three minutes a million tickets here, with the vacuum after).
UPDATE ticket_search SET tokens = tokens || array_to_tsvector(ARRAY(
    SELECT '%' || (ticket_id / 1000)::text || '/' || t
    FROM unnest(tsvector_to_array(tokens)) AS t
    WHERE left(t, 1) NOT IN ('#', '%')
      AND (char_length(ltrim(t, '@')) >= 2 OR ltrim(t, '@') ~ '^[0-9a-z]$')
));
