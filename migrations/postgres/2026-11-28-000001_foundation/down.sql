DROP TABLE settings;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE posts;
DROP TABLE users;
DROP TABLE units;
