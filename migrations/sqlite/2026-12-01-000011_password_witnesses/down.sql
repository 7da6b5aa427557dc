DROP TABLE password_witnesses;
