//! Secrets at rest: a copy of the database (or a backup) holds nothing that
//! can be presented as a live session, even with the generated JWT key that
//! is kept in the same database.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use griddesk::auth::jwt::JwtKeys;
use griddesk::db::AnyConnection;
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp};

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct Account {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = BigInt)]
    token_version: i64,
}

/// Every text a thief finds in the tables that hold sessions, refresh
/// tokens, settings and idempotency keys, plus the accounts to forge for.
fn steal(conn: &mut AnyConnection) -> (Vec<String>, Option<String>, Vec<Account>) {
    const VALUES: &str = "SELECT id AS value FROM sessions \
        UNION ALL SELECT session_id FROM refresh_tokens \
        UNION ALL SELECT token_hash FROM refresh_tokens \
        UNION ALL SELECT sealed_successor FROM refresh_tokens WHERE sealed_successor IS NOT NULL \
        UNION ALL SELECT key FROM settings \
        UNION ALL SELECT value FROM settings \
        UNION ALL SELECT key FROM idempotency_keys \
        UNION ALL SELECT request_hash FROM idempotency_keys";
    const KEY: &str = "SELECT value FROM settings WHERE key = 'jwt_secret'";
    const ACCOUNTS: &str = "SELECT id, role, token_version FROM users";
    macro_rules! on {
        ($c:expr) => {{
            let values: Vec<Stored> = diesel::sql_query(VALUES).load($c).unwrap();
            let key: Vec<Stored> = diesel::sql_query(KEY).load($c).unwrap();
            let accounts: Vec<Account> = diesel::sql_query(ACCOUNTS).load($c).unwrap();
            (
                values.into_iter().map(|s| s.value).collect(),
                key.into_iter().next().map(|s| s.value),
                accounts,
            )
        }};
    }
    match conn {
        AnyConnection::Sqlite(c) => on!(c),
        AnyConnection::Postgres(c) => on!(c),
    }
}

/// The `sid` claim of an access token (read, not verified).
fn sid_of(access_token: &str) -> String {
    let payload = access_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_copy_of_the_database_cannot_be_presented_as_a_live_session() {
    let app = TestApp::spawn_with_generated_key().await;
    app.load_demo().await;
    app.superadmin().await;
    let spent = app.login_tokens("root", PASSWORD).await;
    // A refresh leaves a spent token with its successor sealed for the
    // grace window.
    let root = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": spent["refresh_token"]}),
        )
        .await
        .expect(200)
        .clone();
    let resident = app.login_tokens("resident01", PASSWORD).await;
    // Something in the idempotency table too.
    let body = json!({"category": "noise", "title": "噪音", "description": "夜间噪音。"});
    app.raw(
        actix_web::http::Method::POST,
        "/api/v1/complaints",
        resident["access_token"].as_str(),
        &[("Idempotency-Key", "thief-test-key-0001")],
        Some(("application/json", body.to_string().into_bytes())),
    )
    .await
    .expect(201);

    let db = app.db.clone();
    let (stolen, key, accounts) = actix_web::web::block(move || steal(&mut db.conn().unwrap()))
        .await
        .unwrap();
    let key = key.expect("the generated JWT key is kept in the database");
    assert!(stolen.len() >= 8, "{stolen:?}");
    let forger = JwtKeys::new(key.as_bytes(), Duration::minutes(15));
    let now = Utc::now();

    // The stolen key does sign valid tokens: with a session's real secret
    // (which only the client holds) a forged token would be accepted.
    for tokens in [&root, &resident] {
        let access = tokens["access_token"].as_str().unwrap();
        let me = app.get("/api/v1/me", Some(access)).await;
        let me = me.expect(200);
        let account = accounts.iter().find(|a| a.id == me["id"].as_i64().unwrap()).unwrap();
        let forged = forger
            .issue(account.id, &account.role, account.token_version, &sid_of(access), now)
            .unwrap();
        app.get("/api/v1/me", Some(&forged)).await.expect(200);
    }

    // Every stored value, as a session id for every account, and as a
    // refresh token: all refused.
    for value in &stolen {
        for account in &accounts {
            let forged = forger
                .issue(account.id, &account.role, account.token_version, value, now)
                .unwrap();
            app.get("/api/v1/me", Some(&forged))
                .await
                .expect_problem(401, "session_ended");
        }
        app.post("/api/v1/auth/refresh", None, json!({"refresh_token": value}))
            .await
            .expect_problem(401, "invalid_refresh_token");
        // With the session's secret in front, as a refresh token's tail.
        let sid = sid_of(root["access_token"].as_str().unwrap());
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": format!("{sid}.{value}")}),
        )
        .await
        .expect_problem(401, "invalid_refresh_token");
    }

    // Nothing in the database is a session's secret or a refresh token,
    // and the real holders are unaffected.
    for tokens in [&root, &resident] {
        let sid = sid_of(tokens["access_token"].as_str().unwrap());
        assert!(!stolen.iter().any(|v| v.contains(&sid)));
        let (_, tail) = tokens["refresh_token"].as_str().unwrap().split_once('.').unwrap();
        assert!(!stolen.iter().any(|v| v.contains(tail)));
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await
        .expect(200);
    }
}
