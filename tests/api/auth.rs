//! Registration, sign-in, refresh rotation, sign-out and token validation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::{JWT_SECRET, PASSWORD, TestApp};

fn registration(username: &str, building_id: i64) -> Value {
    json!({"username": username, "password": "correct-horse-42", "display_name": "王芳", "phone": "138 1234 1234",
        "building_id": building_id, "room": "3-502"})
}

#[actix_web::test]
async fn residents_register_with_a_home_in_a_building() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let building = app.unit_id(&admin, "JM-B1-01").await;
    let res = app
        .post("/api/v1/auth/register", None, registration("WangFang", building))
        .await;
    let user = res.expect(201).clone();
    let id = user["id"].as_i64().unwrap();
    assert_eq!(res.header("location"), Some(format!("/api/v1/users/{id}").as_str()));
    assert_eq!(user["username"], "wangfang");
    assert_eq!(user["role"], "resident");
    assert_eq!(user["building_id"], building);
    assert_eq!(user["room"], "3-502");
    assert_eq!(user["phone"], "13812341234");
    assert!(user.get("password_hash").is_none() && !res.text.contains("argon2"));

    let tokens = app.login_tokens("wangfang", "correct-horse-42").await;
    let me = app.get("/api/v1/me", tokens["access_token"].as_str()).await;
    assert_eq!(me.expect(200)["id"], id);
}

/// An app that signs the new resident in at once gets the tokens with the
/// account, without a second password check.
#[actix_web::test]
async fn registration_with_sign_in_answers_a_token_pair() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let building = app.unit_id(&admin, "JM-B1-01").await;
    let res = app
        .post(
            "/api/v1/auth/register?sign_in=true",
            None,
            registration("liuyang", building),
        )
        .await;
    let body = res.expect(201).clone();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(res.header("location"), Some(format!("/api/v1/users/{id}").as_str()));
    assert_eq!(body["username"], "liuyang");
    let tokens = &body["tokens"];
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let me = app.get("/api/v1/me", tokens["access_token"].as_str()).await;
    assert_eq!(me.expect(200)["id"], id);
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": tokens["refresh_token"]}),
    )
    .await
    .expect(200);

    // Without it (or with `false`), the account only.
    for query in ["", "?sign_in=false"] {
        let name = format!("zhaolei{}", query.len());
        let res = app
            .post(
                &format!("/api/v1/auth/register{query}"),
                None,
                registration(&name, building),
            )
            .await;
        assert!(res.expect(201).get("tokens").is_none(), "{}", res.text);
    }
    let res = app
        .post(
            "/api/v1/auth/register?sign_in=maybe",
            None,
            registration("sunli", building),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["sign_in"]);
}

#[actix_web::test]
async fn registration_rejects_bad_input_field_by_field() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let branch = app.unit_id(&admin, "JM-B1").await;
    let household = app.unit_id(&admin, "JM-B1-01-H1").await;
    for not_a_building in [branch, household, 999_999] {
        let res = app
            .post("/api/v1/auth/register", None, registration("lina", not_a_building))
            .await;
        res.expect_problem(422, "validation_failed");
        assert_eq!(res.error_fields(), ["building_id"]);
    }
    let building = app.unit_id(&admin, "JM-B1-01").await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "x", "password": "short", "display_name": " ", "phone": "12345", "building_id": building, "room": ""}),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(
        res.error_fields(),
        ["username", "password", "display_name", "phone", "room"]
    );
    // Residents cannot register themselves as anything else.
    let mut body = registration("lina", building);
    body["role"] = json!("admin");
    assert_eq!(
        app.post("/api/v1/auth/register", None, body).await.error_fields(),
        ["role"]
    );
}

#[actix_web::test]
async fn usernames_are_unique_regardless_of_case() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let building = app.unit_id(&admin, "JM-B1-01").await;
    app.post("/api/v1/auth/register", None, registration("zhangwei", building))
        .await
        .expect(201);
    let res = app
        .post("/api/v1/auth/register", None, registration("ZhangWei", building))
        .await;
    res.expect_problem(409, "username_taken");
}

#[actix_web::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = TestApp::with_demo().await;
    let wrong = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "jm.admin", "password": "wrong-password"}),
        )
        .await;
    let unknown = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "nobody", "password": "wrong-password"}),
        )
        .await;
    let invalid_name = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "?", "password": "wrong-password"}),
        )
        .await;
    wrong.expect_problem(401, "invalid_credentials");
    assert_eq!(wrong.text, unknown.text);
    assert_eq!(wrong.text, invalid_name.text);
}

#[actix_web::test]
async fn login_returns_a_bearer_token_pair() {
    let app = TestApp::with_demo().await;
    let tokens = app.login_tokens("jm.committee", PASSWORD).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 40);
    let claims = claims_of(tokens["access_token"].as_str().unwrap());
    for claim in ["sub", "role", "iat", "nbf", "exp", "iss", "aud", "ver", "sid"] {
        assert!(claims.get(claim).is_some(), "claim {claim} missing: {claims}");
    }
    assert_eq!(claims["role"], "staff");
    assert_eq!(claims["iss"], "griddesk");
    assert_eq!(claims["aud"], "griddesk-api");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
}

#[actix_web::test]
async fn refresh_tokens_rotate_and_a_replay_ends_the_whole_family() {
    let app = TestApp::with_demo().await;
    let first = app.login_tokens("resident01", PASSWORD).await;
    let second = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    let second = second.expect(200).clone();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    app.get("/api/v1/me", second["access_token"].as_str()).await.expect(200);

    // The first token again, past the grace window: a replay. The session
    // ends, newest tokens included.
    app.clock.advance(Duration::seconds(31));
    let replay = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    replay.expect_problem(401, "refresh_token_reused");
    let newest = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    newest.expect_problem(401, "invalid_refresh_token");
    app.get("/api/v1/me", second["access_token"].as_str())
        .await
        .expect_problem(401, "session_ended");

    // Other sessions of the same account are untouched.
    let other = app.login_tokens("resident01", PASSWORD).await;
    app.get("/api/v1/me", other["access_token"].as_str()).await.expect(200);

    let unknown = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": "made-up"}))
        .await;
    unknown.expect_problem(401, "invalid_refresh_token");
}

#[actix_web::test]
async fn refresh_tokens_expire() {
    let app = TestApp::with_demo().await;
    let tokens = app.login_tokens("resident01", PASSWORD).await;
    app.clock.advance(Duration::days(31));
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    res.expect_problem(401, "invalid_refresh_token");
}

#[actix_web::test]
async fn logout_ends_the_session_at_once() {
    let app = TestApp::with_demo().await;
    let tokens = app.login_tokens("resident01", PASSWORD).await;
    let other = app.login_tokens("resident01", PASSWORD).await;
    let access = tokens["access_token"].as_str();
    app.post("/api/v1/auth/logout", access, json!({})).await.expect(204);
    app.get("/api/v1/me", access).await.expect_problem(401, "session_ended");
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    res.expect_problem(401, "invalid_refresh_token");
    // Only this session: the other device stays signed in.
    app.get("/api/v1/me", other["access_token"].as_str()).await.expect(200);
}

#[actix_web::test]
async fn logout_everywhere_ends_every_session() {
    let app = TestApp::with_demo().await;
    let a = app.login_tokens("resident01", PASSWORD).await;
    let b = app.login_tokens("resident01", PASSWORD).await;
    let res = app
        .request(
            awc::http::Method::POST,
            "/api/v1/auth/logout?everywhere=true",
            a["access_token"].as_str(),
            None,
        )
        .await;
    res.expect(204);
    app.get("/api/v1/me", a["access_token"].as_str())
        .await
        .expect_problem(401, "session_ended");
    app.get("/api/v1/me", b["access_token"].as_str())
        .await
        .expect_problem(401, "session_ended");
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": b["refresh_token"]}),
        )
        .await;
    res.expect_problem(401, "invalid_refresh_token");
}

#[actix_web::test]
async fn access_tokens_expire_after_fifteen_minutes() {
    let app = TestApp::with_demo().await;
    let token = app.token("resident01").await;
    app.clock.advance(Duration::minutes(14));
    app.get("/api/v1/me", Some(&token)).await.expect(200);
    app.clock.advance(Duration::minutes(2));
    app.get("/api/v1/me", Some(&token))
        .await
        .expect_problem(401, "token_expired");
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[actix_web::test]
async fn forged_and_altered_tokens_are_refused() {
    let app = TestApp::with_demo().await;
    let token = app.token("resident01").await;
    let claims = claims_of(&token);
    // The real secret signs a valid token: the forgeries below differ in one way each.
    app.get("/api/v1/me", Some(&sign(&claims, JWT_SECRET)))
        .await
        .expect(200);

    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = token.split('.').nth(1).unwrap();
    let alg_none = format!("{header_none}.{payload}.");
    app.get("/api/v1/me", Some(&alg_none))
        .await
        .expect_problem(401, "invalid_token");

    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    app.get("/api/v1/me", Some(&hs512))
        .await
        .expect_problem(401, "invalid_token");

    app.get(
        "/api/v1/me",
        Some(&sign(&claims, "another-secret-another-secret-12345")),
    )
    .await
    .expect_problem(401, "invalid_token");

    let mut admin = claims.clone();
    admin["role"] = json!("superadmin");
    admin["sub"] = json!("1");
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(admin.to_string()),
        parts[2]
    );
    app.get("/api/v1/me", Some(&tampered))
        .await
        .expect_problem(401, "invalid_token");

    for (claim, value) in [("iss", json!("someone-else")), ("aud", json!("another-api"))] {
        let mut forged = claims.clone();
        forged[claim] = value;
        app.get("/api/v1/me", Some(&sign(&forged, JWT_SECRET)))
            .await
            .expect_problem(401, "invalid_token");
    }
    let now = app.clock.now().timestamp();
    let mut future = claims.clone();
    future["nbf"] = json!(now + 3600);
    app.get("/api/v1/me", Some(&sign(&future, JWT_SECRET)))
        .await
        .expect_problem(401, "invalid_token");
    let mut expired = claims.clone();
    expired["exp"] = json!(now - 60);
    app.get("/api/v1/me", Some(&sign(&expired, JWT_SECRET)))
        .await
        .expect_problem(401, "token_expired");
    let mut no_exp = claims.as_object().unwrap().clone();
    no_exp.remove("exp");
    app.get("/api/v1/me", Some(&sign(&Value::Object(no_exp), JWT_SECRET)))
        .await
        .expect_problem(401, "invalid_token");
    let mut old_version = claims.clone();
    old_version["ver"] = json!(claims["ver"].as_i64().unwrap() - 1);
    app.get("/api/v1/me", Some(&sign(&old_version, JWT_SECRET)))
        .await
        .expect_problem(401, "session_ended");
}

#[actix_web::test]
async fn changing_the_password_ends_every_session() {
    let app = TestApp::with_demo().await;
    let a = app.login_tokens("resident02", PASSWORD).await;
    let b = app.login_tokens("resident02", PASSWORD).await;
    let access = a["access_token"].as_str();
    let wrong = app
        .post(
            "/api/v1/me/password",
            access,
            json!({"current_password": "not-it-at-all", "new_password": "brand-new-secret"}),
        )
        .await;
    wrong.expect_problem(403, "wrong_password");
    let short = app
        .post(
            "/api/v1/me/password",
            access,
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(short.error_fields(), ["new_password"]);

    app.post(
        "/api/v1/me/password",
        access,
        json!({"current_password": PASSWORD, "new_password": "brand-new-secret"}),
    )
    .await
    .expect(204);
    app.get("/api/v1/me", access).await.expect_problem(401, "session_ended");
    app.get("/api/v1/me", b["access_token"].as_str())
        .await
        .expect_problem(401, "session_ended");
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": b["refresh_token"]}),
        )
        .await;
    res.expect_problem(401, "invalid_refresh_token");
    let old = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "resident02", "password": PASSWORD}),
        )
        .await;
    old.expect_problem(401, "invalid_credentials");
    app.login_tokens("resident02", "brand-new-secret").await;
}

#[actix_web::test]
async fn me_shows_and_updates_the_callers_own_account() {
    let app = TestApp::with_demo().await;
    let token = app.token("resident01").await;
    let me = app.get("/api/v1/me", Some(&token)).await.expect(200).clone();
    assert_eq!(me["username"], "resident01");
    assert_eq!(me["role"], "resident");
    // The person sees their own number unmasked.
    assert!(!me["phone"].as_str().unwrap().contains('*'));

    let res = app
        .patch(
            "/api/v1/me",
            Some(&token),
            json!({"display_name": "王芳芳", "phone": "+85291234567"}),
        )
        .await;
    let updated = res.expect(200);
    assert_eq!(updated["display_name"], "王芳芳");
    assert_eq!(updated["phone"], "+85291234567");
    let res = app.patch("/api/v1/me", Some(&token), json!({"phone": "12"})).await;
    assert_eq!(res.error_fields(), ["phone"]);
    // Role and home are not the resident's to change.
    let res = app.patch("/api/v1/me", Some(&token), json!({"role": "admin"})).await;
    assert_eq!(res.error_fields(), ["role"]);
    assert_eq!(
        app.get("/api/v1/me", Some(&token)).await.expect(200)["role"],
        "resident"
    );
}

#[actix_web::test]
async fn staff_see_their_posts_on_me() {
    let app = TestApp::with_demo().await;
    let token = app.token("jm.b1.bldg1").await;
    let me = app.get("/api/v1/me", Some(&token)).await.expect(200).clone();
    let posts = me["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["level"], "building");
    assert_eq!(posts[0]["unit_name"], "1号楼");
}

/// An app whose access token expired under two requests at once sends
/// two refreshes with the same token: both get the one successor, and the
/// session lives. The same token half a minute later is a replay.
#[actix_web::test]
async fn concurrent_refreshes_with_one_token_all_get_its_successor() {
    let app = TestApp::with_demo().await;
    let tokens = app.login_tokens("resident04", PASSWORD).await;
    let body = json!({"refresh_token": tokens["refresh_token"]});
    let attempts = (0..8).map(|_| app.post("/api/v1/auth/refresh", None, body.clone()));
    let results = futures_util::future::join_all(attempts).await;
    let texts: Vec<&str> = results.iter().map(|r| r.text.as_str()).collect();
    assert!(results.iter().all(|r| r.status.as_u16() == 200), "{texts:?}");
    let successor = &results[0].body["refresh_token"];
    assert_ne!(successor, &tokens["refresh_token"]);
    assert!(
        results.iter().all(|r| &r.body["refresh_token"] == successor),
        "{texts:?}"
    );
    for res in &results {
        app.get("/api/v1/me", res.body["access_token"].as_str())
            .await
            .expect(200);
    }

    // 31 seconds after its use the spent token is a replay: the session ends.
    app.clock.advance(Duration::seconds(31));
    app.post("/api/v1/auth/refresh", None, body)
        .await
        .expect_problem(401, "refresh_token_reused");
    app.get("/api/v1/me", results[0].body["access_token"].as_str())
        .await
        .expect_problem(401, "session_ended");
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": successor}))
        .await
        .expect_problem(401, "invalid_refresh_token");
}

/// The answer to a refresh was lost on a bad network; the app retries.
#[actix_web::test]
async fn a_refresh_retried_within_the_grace_window_gets_the_same_successor() {
    let app = TestApp::with_demo().await;
    let first = app.login_tokens("resident01", PASSWORD).await;
    let body = json!({"refresh_token": first["refresh_token"]});
    let lost = app
        .post("/api/v1/auth/refresh", None, body.clone())
        .await
        .expect(200)
        .clone();
    app.clock.advance(Duration::seconds(29));
    let retried = app
        .post("/api/v1/auth/refresh", None, body.clone())
        .await
        .expect(200)
        .clone();
    assert_eq!(retried["refresh_token"], lost["refresh_token"]);
    app.get("/api/v1/me", retried["access_token"].as_str())
        .await
        .expect(200);
    // The successor rotates as usual, and the session survives.
    let third = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": retried["refresh_token"]}),
        )
        .await
        .expect(200)
        .clone();
    assert_ne!(third["refresh_token"], retried["refresh_token"]);
    app.get("/api/v1/me", third["access_token"].as_str()).await.expect(200);
    // The window runs from the first use, not from the last retry.
    app.clock.advance(Duration::seconds(2));
    app.post("/api/v1/auth/refresh", None, body)
        .await
        .expect_problem(401, "refresh_token_reused");
    app.get("/api/v1/me", third["access_token"].as_str())
        .await
        .expect_problem(401, "session_ended");
}

/// A refresh that failed (the token had expired) stored no successor:
/// presenting the token again within the window is a replay, not a way
/// around the refusal.
#[actix_web::test]
async fn a_failed_refresh_leaves_nothing_for_the_grace_window() {
    let app = TestApp::with_demo().await;
    let tokens = app.login_tokens("resident02", PASSWORD).await;
    app.clock.advance(Duration::days(31));
    let body = json!({"refresh_token": tokens["refresh_token"]});
    app.post("/api/v1/auth/refresh", None, body.clone())
        .await
        .expect_problem(401, "invalid_refresh_token");
    app.post("/api/v1/auth/refresh", None, body)
        .await
        .expect_problem(401, "refresh_token_reused");
}
