UPDATE ticket_search SET tokens = ts_delete(tokens, ARRAY(
    SELECT t FROM unnest(tsvector_to_array(tokens)) AS t WHERE left(t, 1) = '%'
));
