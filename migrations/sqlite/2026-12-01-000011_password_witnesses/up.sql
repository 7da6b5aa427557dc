-- Who besides its holder can sign in as an account: the admin who created
-- it chose its password, and so did whoever could sign in as that admin.
-- Kept until the holder changes their password. Such a person must not
-- decide their own requests through the account (separation of duties).
-- Existing accounts made by an admin are taken to still carry the password
-- that admin set (the chains behind them are not known).
CREATE TABLE password_witnesses (
    user_id BIGINT NOT NULL REFERENCES users (id),
    witness_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (user_id, witness_id)
);
INSERT INTO password_witnesses (user_id, witness_id)
SELECT id, created_by FROM users WHERE created_by IS NOT NULL AND created_by <> id;
