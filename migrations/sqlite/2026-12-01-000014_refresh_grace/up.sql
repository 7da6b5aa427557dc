-- Refresh grace: a spent refresh token presented again within a short
-- window (two refreshes racing, a retry after a lost answer) gets the same
-- successor instead of ending the session. The successor is kept here
-- sealed: its random part XOR-ed with a one-time pad derived (HMAC-SHA256)
-- from the spent token, which the database does not hold (only its
-- SHA-256). Without the spent token the value opens to nothing; it is set
-- only when the spend succeeded.
ALTER TABLE refresh_tokens ADD COLUMN sealed_successor TEXT;
