//! Table definitions shared by SQLite and PostgreSQL. Written by hand: both
//! backends must map to the column types `MultiConnection` supports.

diesel::table! {
    units (id) {
        id -> BigInt,
        parent_id -> Nullable<BigInt>,
        level -> Text,
        name -> Text,
        code -> Nullable<Text>,
        path -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        display_name -> Text,
        phone -> Nullable<Text>,
        password_hash -> Text,
        role -> Text,
        active -> Bool,
        token_version -> BigInt,
        building_id -> Nullable<BigInt>,
        room -> Nullable<Text>,
        household_id -> Nullable<BigInt>,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    posts (id) {
        id -> BigInt,
        user_id -> BigInt,
        unit_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        session_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(posts -> users (user_id));
diesel::joinable!(posts -> units (unit_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(units, users, posts, sessions, refresh_tokens, settings);
