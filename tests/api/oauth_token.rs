//! `POST /api/v1/auth/token`: the OAuth 2.0 password grant Swagger UI's
//! Authorize dialog sends, answered as sign-in answers.

use actix_web::http::Method;

use crate::support::{PASSWORD, TestApp};

const FORM: &str = "application/x-www-form-urlencoded";

async fn token(app: &TestApp, form: &str, headers: &[(&str, &str)]) -> crate::support::Res {
    app.raw(
        Method::POST,
        "/api/v1/auth/token",
        None,
        headers,
        Some((FORM, form.as_bytes().to_vec())),
    )
    .await
}

#[actix_web::test]
async fn the_password_grant_signs_in_as_login_does() {
    let app = TestApp::with_demo().await;
    // As Swagger UI sends it: an empty scope and empty client credentials as Basic.
    let form = format!("grant_type=password&username=jm.admin&password={PASSWORD}&scope=");
    let res = token(&app, &form, &[("Authorization", "Basic Og==")]).await;
    let tokens = res.expect(200);
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["refresh_token"].is_string());
    let me = app.get("/api/v1/me", tokens["access_token"].as_str()).await;
    assert_eq!(me.expect(200)["username"], "jm.admin");

    token(
        &app,
        "grant_type=password&username=jm.admin&password=wrong-password",
        &[],
    )
    .await
    .expect_problem(401, "invalid_credentials");
    token(&app, "grant_type=client_credentials", &[])
        .await
        .expect_problem(400, "unsupported_grant_type");
    let missing = token(&app, "grant_type=password&username=jm.admin", &[]).await;
    assert_eq!(missing.status.as_u16(), 422);
    assert_eq!(missing.error_fields(), ["password"]);
    // JSON belongs to `POST /api/v1/auth/login`.
    let json = app
        .post(
            "/api/v1/auth/token",
            None,
            serde_json::json!({"username": "jm.admin", "password": PASSWORD}),
        )
        .await;
    json.expect_problem(415, "unsupported_media_type");
}
