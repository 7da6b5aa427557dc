UPDATE ticket_search SET tokens = ts_delete(tokens, '#b' || (ticket_id / 10000)::text);
