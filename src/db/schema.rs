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
        last_community_id -> Nullable<BigInt>,
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
    /// `id` is the SHA-256 (hex) of the session's secret, never the secret.
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
        sealed_successor -> Nullable<Text>,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    limit_attempts (id) {
        id -> BigInt,
        scope -> Text,
        key_hash -> Text,
        attempted_at -> Timestamp,
    }
}

diesel::table! {
    categories (id) {
        id -> BigInt,
        code -> Text,
        name_zh -> Text,
        name_en -> Text,
        kind -> Text,
        entry_level -> Text,
        accept_hours -> Integer,
        resolve_hours -> Integer,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tickets (id) {
        id -> BigInt,
        kind -> Text,
        category_id -> BigInt,
        title -> Text,
        description -> Text,
        location -> Nullable<Text>,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        anonymous -> Bool,
        priority -> Text,
        reporter_id -> BigInt,
        filed_by_id -> Nullable<BigInt>,
        community_id -> BigInt,
        current_unit_id -> BigInt,
        status -> Text,
        accept_due_at -> Timestamp,
        resolve_due_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        resolved_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        resolution -> Nullable<Text>,
        resolved_unit_id -> Nullable<BigInt>,
        rating -> Nullable<Integer>,
        feedback -> Nullable<Text>,
        bounce_count -> Integer,
        escalation_count -> Integer,
        reopen_count -> Integer,
        arrived_from_unit_id -> Nullable<BigInt>,
        merged_into_id -> Nullable<BigInt>,
        referred_to -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        accept_breached_at -> Nullable<Timestamp>,
        resolve_breached_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        arrived_at -> Nullable<Timestamp>,
        accept_warned_due -> Nullable<Timestamp>,
        resolve_warned_due -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ticket_visits (ticket_id, unit_id) {
        ticket_id -> BigInt,
        unit_id -> BigInt,
    }
}

diesel::table! {
    /// Each missed deadline, on the record of the unit holding the ticket
    /// then (migration `000024_breach_record`); rows are never changed.
    ticket_breaches (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        unit_id -> BigInt,
        deadline -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    /// Derived: one row per ticket per unit it has been at or below (kept by
    /// database triggers; see migration `000009_ticket_reach`). Read by `db::stats`.
    ticket_reach (unit_id, created_at, ticket_id) {
        unit_id -> BigInt,
        created_at -> Timestamp,
        ticket_id -> BigInt,
        status -> Text,
        kind -> Text,
        category_id -> BigInt,
        resolved_unit_id -> Nullable<BigInt>,
        breached -> Integer,
        reopened -> Integer,
        rating -> Nullable<Integer>,
        accept_hours -> Nullable<Double>,
        resolve_hours -> Nullable<Double>,
    }
}

diesel::table! {
    ticket_events (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        kind -> Text,
        actor_id -> Nullable<BigInt>,
        from_status -> Nullable<Text>,
        to_status -> Nullable<Text>,
        from_unit_id -> Nullable<BigInt>,
        to_unit_id -> Nullable<BigInt>,
        note -> Nullable<Text>,
        internal -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dispute_parties (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        role -> Text,
        user_id -> Nullable<BigInt>,
        name -> Text,
        phone -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> BigInt,
        key -> Text,
        request_hash -> Text,
        status_code -> Integer,
        response_body -> Text,
        location -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sla_rules (id) {
        id -> BigInt,
        level -> Nullable<Text>,
        category_id -> Nullable<BigInt>,
        priority -> Nullable<Text>,
        accept_hours -> Integer,
        resolve_hours -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    extension_requests (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        unit_id -> BigInt,
        requested_by -> BigInt,
        hours -> Integer,
        reason -> Text,
        status -> Text,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        decision_note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mediation_sessions (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        held_at -> Timestamp,
        mediator_id -> BigInt,
        summary -> Text,
        outcome -> Nullable<Text>,
        recorded_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dispute_agreements (ticket_id) {
        ticket_id -> BigInt,
        terms -> Text,
        performance_deadline -> Timestamp,
        recorded_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    follow_ups (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        due_at -> Timestamp,
        recorded_at -> Nullable<Timestamp>,
        recorded_by -> Nullable<BigInt>,
        result -> Nullable<Text>,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        reminded_due -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        created_at -> Timestamp,
        request_id -> Text,
        actor_id -> BigInt,
        actor_role -> Text,
        community_id -> Nullable<BigInt>,
        kind -> Text,
        method -> Text,
        route -> Text,
        path -> Text,
        status -> Integer,
    }
}

diesel::table! {
    /// The status a request answered, where it differs from the one its
    /// audit row was written with (see the migration).
    audit_answers (audit_id) {
        audit_id -> BigInt,
        status -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Who besides its holder can sign in as an account (see the migration).
    password_witnesses (user_id, witness_id) {
        user_id -> BigInt,
        witness_id -> BigInt,
    }
}

diesel::table! {
    /// What each person is told (see the migration).
    notifications (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        ticket_id -> Nullable<BigInt>,
        event_id -> Nullable<BigInt>,
        unit_id -> Nullable<BigInt>,
        due_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        community_id -> BigInt,
        url -> Text,
        kinds -> Text,
        description -> Text,
        secret -> Text,
        state -> Text,
        consecutive_failures -> Integer,
        failing_since -> Nullable<Timestamp>,
        disabled_at -> Nullable<Timestamp>,
        created_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        kind -> Text,
        ticket_id -> Nullable<BigInt>,
        event_id -> Nullable<BigInt>,
        unit_id -> Nullable<BigInt>,
        due_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        leased_until -> Nullable<Timestamp>,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        body -> Nullable<Text>,
    }
}

diesel::table! {
    devices (id) {
        id -> BigInt,
        user_id -> BigInt,
        platform -> Text,
        token -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(posts -> users (user_id));
diesel::joinable!(posts -> units (unit_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));

diesel::joinable!(tickets -> categories (category_id));
diesel::joinable!(ticket_visits -> tickets (ticket_id));
diesel::joinable!(ticket_breaches -> tickets (ticket_id));
diesel::joinable!(ticket_events -> tickets (ticket_id));
diesel::joinable!(dispute_parties -> tickets (ticket_id));
diesel::joinable!(follow_ups -> tickets (ticket_id));
diesel::joinable!(audit_answers -> audit_log (audit_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(
    units,
    users,
    posts,
    sessions,
    refresh_tokens,
    settings,
    categories,
    tickets,
    ticket_visits,
    ticket_reach,
    ticket_breaches,
    ticket_events,
    dispute_parties,
    idempotency_keys,
    sla_rules,
    extension_requests,
    mediation_sessions,
    dispute_agreements,
    follow_ups,
    audit_log,
    audit_answers,
    password_witnesses,
    notifications,
    webhook_endpoints,
    webhook_deliveries,
    devices,
);
