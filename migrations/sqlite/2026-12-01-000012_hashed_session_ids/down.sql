-- The previous version stores plaintext session ids: the hashed ones mean
-- nothing to it, so every session ends here too.
DELETE FROM refresh_tokens;
DELETE FROM sessions;
