//! What browsers and deployments see: CORS from configured origins only,
//! security headers, Swagger UI that can be turned off.

use actix_web::http::Method;

use crate::support::TestApp;

const ALLOWED: &str = "https://desk.example.org";

async fn with_cors() -> TestApp {
    TestApp::spawn_with(|state| state.cors_origins = vec![ALLOWED.to_owned()]).await
}

#[actix_web::test]
async fn browsers_may_call_from_configured_origins_only() {
    let app = with_cors().await;
    // Preflight from the allowed origin: allowed, without credentials mode.
    let preflight = app
        .raw(
            Method::OPTIONS,
            "/api/v1/tickets",
            None,
            &[
                ("Origin", ALLOWED),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "authorization, content-type, idempotency-key",
                ),
            ],
            None,
        )
        .await;
    assert_eq!(preflight.status.as_u16(), 200, "{}", preflight.text);
    assert_eq!(preflight.header("access-control-allow-origin"), Some(ALLOWED));
    assert_eq!(preflight.header("access-control-allow-credentials"), None);
    let allowed_headers = preflight.header("access-control-allow-headers").unwrap().to_lowercase();
    assert!(allowed_headers.contains("idempotency-key"), "{allowed_headers}");

    let res = app
        .raw(Method::GET, "/healthz", None, &[("Origin", ALLOWED)], None)
        .await;
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.header("access-control-allow-origin"), Some(ALLOWED));
    let exposed = res.header("access-control-expose-headers").unwrap().to_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("content-disposition"),
        "{exposed}"
    );

    // Any other origin: refused as a problem, and never a wildcard.
    for evil in ["https://evil.example", "null"] {
        let res = app
            .raw(
                Method::OPTIONS,
                "/api/v1/tickets",
                None,
                &[("Origin", evil), ("Access-Control-Request-Method", "GET")],
                None,
            )
            .await;
        res.expect_problem(400, "origin_not_allowed");
        assert_eq!(res.header("access-control-allow-origin"), None);
        let res = app.raw(Method::GET, "/healthz", None, &[("Origin", evil)], None).await;
        assert_eq!(res.header("access-control-allow-origin"), None, "{evil}");
    }
    // Clients that are not browsers send no Origin and are not concerned.
    assert_eq!(app.get("/healthz", None).await.status.as_u16(), 200);
}

#[actix_web::test]
async fn with_no_origins_configured_no_page_elsewhere_may_call() {
    let app = TestApp::spawn().await;
    let res = app
        .raw(
            Method::OPTIONS,
            "/api/v1/tickets",
            None,
            &[("Origin", ALLOWED), ("Access-Control-Request-Method", "GET")],
            None,
        )
        .await;
    res.expect_problem(400, "origin_not_allowed");
    assert_eq!(res.header("access-control-allow-origin"), None);
}

#[actix_web::test]
async fn api_answers_are_not_cached_and_render_nothing() {
    let app = TestApp::spawn().await;
    for path in ["/api/v1/units", "/api/v1/nowhere"] {
        let res = app.get(path, None).await;
        assert_eq!(res.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(
            res.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'")
        );
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(res.header("referrer-policy"), Some("no-referrer"));
    }
}

#[actix_web::test]
async fn swagger_ui_can_be_turned_off_while_the_document_stays() {
    let on = TestApp::spawn().await;
    assert_eq!(on.get("/swagger-ui/", None).await.status.as_u16(), 200);
    let off = TestApp::spawn_with(|state| state.swagger = false).await;
    off.get("/swagger-ui/", None).await.expect_problem(404, "not_found");
    off.get("/swagger-ui", None).await.expect_problem(404, "not_found");
    let doc = off.get("/api-docs/openapi.json", None).await;
    assert_eq!(doc.status.as_u16(), 200);
    assert_eq!(
        doc.body,
        serde_json::from_str::<serde_json::Value>(&griddesk::openapi_json()).unwrap()
    );
    assert_eq!(
        on.get("/api-docs/openapi.json", None).await.body,
        doc.body,
        "the same document either way"
    );
}
