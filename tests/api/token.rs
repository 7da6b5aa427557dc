//! The OAuth 2.0 token endpoint (RFC 6749): the password and refresh-token
//! grants, errors in §5.2 shape, and the sign-in limits shared with
//! `/auth/login`.

use awc::http::Method;
use chrono::Duration;
use serde_json::json;

use crate::support::{PASSWORD, Res, TestApp};

const FORM: &str = "application/x-www-form-urlencoded";

async fn token(app: &TestApp, form: &str) -> Res {
    app.raw(
        Method::POST,
        "/api/v1/auth/token",
        None,
        &[],
        Some((FORM, form.as_bytes().to_vec())),
    )
    .await
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A refusal in RFC 6749 §5.2 shape, with its headers.
fn expect_oauth_error(res: &Res, error: &str, code: Option<&str>) {
    assert_eq!(res.status.as_u16(), 400, "{}", res.text);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(res.body["error"], error, "{}", res.text);
    let description = res.body["error_description"].as_str().unwrap();
    assert!(
        description
            .chars()
            .all(|c| matches!(c, ' '..='~') && c != '"' && c != '\\'),
        "{description}"
    );
    assert_eq!(res.body.get("code").and_then(|c| c.as_str()), code, "{}", res.text);
}

#[actix_web::test]
async fn the_password_grant_signs_in_as_login_does() {
    let app = TestApp::with_demo().await;
    let res = token(
        &app,
        &form(&[
            ("grant_type", "password"),
            ("username", "resident01"),
            ("password", PASSWORD),
            ("scope", ""),
            ("client_id", "swagger-ui"),
        ]),
    )
    .await;
    let tokens = res.expect(200).clone();
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(res.header("pragma"), Some("no-cache"));
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    app.get("/api/v1/me", tokens["access_token"].as_str()).await.expect(200);

    // As Swagger UI's Authorize dialog sends it: empty client credentials as Basic.
    let swagger = app
        .raw(
            Method::POST,
            "/api/v1/auth/token",
            None,
            &[("Authorization", "Basic Og==")],
            Some((
                FORM,
                form(&[
                    ("grant_type", "password"),
                    ("username", "jm.admin"),
                    ("password", PASSWORD),
                    ("scope", ""),
                ])
                .into_bytes(),
            )),
        )
        .await;
    let admin = swagger.expect(200).clone();
    assert_eq!(
        app.get("/api/v1/me", admin["access_token"].as_str()).await.expect(200)["username"],
        "jm.admin"
    );

    // Its refresh token refreshes through either endpoint.
    let refreshed = token(
        &app,
        &form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ]),
    )
    .await;
    let refreshed = refreshed.expect(200).clone();
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": refreshed["refresh_token"]}),
    )
    .await
    .expect(200);

    // A spent one past the grace window: a replay, which ends the session.
    app.clock.advance(Duration::seconds(31));
    let replay = token(
        &app,
        &form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ]),
    )
    .await;
    expect_oauth_error(&replay, "invalid_grant", Some("refresh_token_reused"));
    let after = token(
        &app,
        &form(&[("grant_type", "refresh_token"), ("refresh_token", "made-up.token")]),
    )
    .await;
    expect_oauth_error(&after, "invalid_grant", Some("invalid_refresh_token"));
}

#[actix_web::test]
async fn refusals_are_in_rfc_6749_shape() {
    let app = TestApp::with_demo().await;
    let wrong = token(
        &app,
        &form(&[
            ("grant_type", "password"),
            ("username", "resident01"),
            ("password", "wrong-password"),
        ]),
    )
    .await;
    expect_oauth_error(&wrong, "invalid_grant", Some("invalid_credentials"));
    let unknown = token(
        &app,
        &form(&[
            ("grant_type", "password"),
            ("username", "nobody"),
            ("password", "wrong-password"),
        ]),
    )
    .await;
    assert_eq!(unknown.text, wrong.text);

    for (body, error) in [
        (
            form(&[("username", "resident01"), ("password", PASSWORD)]),
            "invalid_request",
        ),
        (
            form(&[("grant_type", "password"), ("username", "resident01")]),
            "invalid_request",
        ),
        (
            form(&[("grant_type", "password"), ("username", "resident01"), ("password", "")]),
            "invalid_request",
        ),
        (
            form(&[
                ("grant_type", "password"),
                ("grant_type", "password"),
                ("username", "resident01"),
                ("password", PASSWORD),
            ]),
            "invalid_request",
        ),
        (form(&[("grant_type", "refresh_token")]), "invalid_request"),
        (form(&[("grant_type", "client_credentials")]), "unsupported_grant_type"),
        (
            form(&[("grant_type", "password"), ("username", "a\0b"), ("password", PASSWORD)]),
            "invalid_request",
        ),
    ] {
        expect_oauth_error(&token(&app, &body).await, error, None);
    }
    // JSON is not what the RFC asks for.
    let json = app
        .post(
            "/api/v1/auth/token",
            None,
            json!({"grant_type": "password", "username": "resident01", "password": PASSWORD}),
        )
        .await;
    expect_oauth_error(&json, "invalid_request", None);
}

/// Failures at `/auth/login` and `/auth/token` count together: the token
/// endpoint is not a way around the limits.
#[actix_web::test]
async fn the_password_grant_shares_the_sign_in_limits() {
    let app = TestApp::with_demo().await;
    let bad = form(&[
        ("grant_type", "password"),
        ("username", "resident03"),
        ("password", "wrong-password"),
    ]);
    for _ in 0..3 {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"username": "resident03", "password": "wrong-password"}),
        )
        .await
        .expect_problem(401, "invalid_credentials");
    }
    for _ in 0..2 {
        expect_oauth_error(&token(&app, &bad).await, "invalid_grant", Some("invalid_credentials"));
    }
    let res = token(
        &app,
        &form(&[
            ("grant_type", "password"),
            ("username", "resident03"),
            ("password", PASSWORD),
        ]),
    )
    .await;
    res.expect_problem(429, "too_many_login_attempts");
    assert!(res.header("retry-after").is_some());
}
