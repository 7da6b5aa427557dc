//! Signed-in callers are remembered for a moment (`auth::session_cache`):
//! a change takes effect at once on the replica that made it, and within
//! the cache's lifetime on the others.

use griddesk::auth::session_cache::TTL;
use serde_json::json;

use crate::support::TestApp;

#[actix_web::test]
async fn a_sign_out_ends_the_session_at_once_here_and_within_the_ttl_on_other_replicas() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let token = app.token("jm.committee").await;
    // Both replicas have seen (and remember) the session.
    app.get("/api/v1/me", Some(&token)).await.expect(200);
    other.get("/api/v1/me", Some(&token)).await.expect(200);

    app.post("/api/v1/auth/logout", Some(&token), json!({}))
        .await
        .expect(204);
    app.get("/api/v1/me", Some(&token))
        .await
        .expect_problem(401, "session_ended");
    // The other replica may still answer from memory, but not after the TTL.
    actix_web::rt::time::sleep(TTL + std::time::Duration::from_millis(200)).await;
    other
        .get("/api/v1/me", Some(&token))
        .await
        .expect_problem(401, "session_ended");
}

#[actix_web::test]
async fn a_removed_post_stops_its_reads_at_once() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let staff = app.token("jm.committee").await;
    let resident = app.token("resident01").await;
    let ticket = app
        .post(
            "/api/v1/complaints",
            Some(&resident),
            json!({"category": "noise", "title": "楼上噪音", "description": "夜里十二点还在装修"}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .expect("ticket id");
    // Read (and remembered) with the posts that allow it...
    let me = app.get("/api/v1/me", Some(&staff)).await.expect(200).clone();
    app.get(&format!("/api/v1/tickets/{ticket}"), Some(&staff))
        .await
        .expect(200);
    for post in me["posts"].as_array().expect("posts") {
        let id = post["post_id"].as_i64().expect("post id");
        app.delete(&format!("/api/v1/posts/{id}"), Some(&admin))
            .await
            .expect(204);
    }
    // ...and forgotten by the removal: no post, no ticket.
    app.get(&format!("/api/v1/tickets/{ticket}"), Some(&staff))
        .await
        .expect_problem(404, "not_found");
}
