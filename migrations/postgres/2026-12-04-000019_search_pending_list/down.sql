ALTER INDEX ticket_search_tokens_idx RESET (gin_pending_list_limit);
