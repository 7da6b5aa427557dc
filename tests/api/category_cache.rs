//! Readers share the category catalogue for a moment (`db::category_cache`):
//! a change shows at once on the replica that made it and within the
//! cache's lifetime on the others, and a category created elsewhere a
//! moment ago never leaves its tickets unshowable.

use griddesk::db::category_cache::TTL;
use serde_json::json;

use crate::support::TestApp;

async fn file(app: &TestApp, token: &str, category: &str) -> i64 {
    app.post(
        "/api/v1/complaints",
        Some(token),
        json!({"category": category, "title": "楼道堆物", "description": "三楼楼道堆满纸箱"}),
    )
    .await
    .expect(201)["id"]
        .as_i64()
        .expect("ticket id")
}

async fn category_id(app: &TestApp, token: &str, code: &str) -> i64 {
    app.get("/api/v1/categories", Some(token))
        .await
        .expect(200)
        .as_array()
        .expect("categories")
        .iter()
        .find(|c| c["code"] == code)
        .and_then(|c| c["id"].as_i64())
        .expect("the category")
}

#[actix_web::test]
async fn a_renamed_category_shows_at_once_here_and_within_the_ttl_on_other_replicas() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let root = app.superadmin().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let ticket = file(&app, &resident, "noise").await;
    let path = format!("/api/v1/tickets/{ticket}");
    let noise = app.get(&path, Some(&admin)).await.expect(200)["category"].clone();
    assert_eq!(noise["code"], "noise");
    // Both replicas have read (and remember) the catalogue.
    other.get(&path, Some(&admin)).await.expect(200);
    other.get("/api/v1/tickets?limit=5", Some(&admin)).await.expect(200);

    let id = category_id(&app, &admin, "noise").await;
    app.patch(
        &format!("/api/v1/categories/{id}"),
        Some(&root),
        json!({"name_en": "Noise at night", "name_zh": "夜间噪音"}),
    )
    .await
    .expect(200);
    // Here at once, in the ticket and in the list...
    assert_eq!(
        app.get(&path, Some(&admin)).await.expect(200)["category"]["name_en"],
        "Noise at night"
    );
    let list = app.get("/api/v1/tickets?category=noise&limit=5", Some(&admin)).await;
    assert_eq!(list.expect(200)["items"][0]["category"]["name_zh"], "夜间噪音");
    // ...and on the other replica, after the TTL at the latest.
    actix_web::rt::time::sleep(TTL + std::time::Duration::from_millis(200)).await;
    assert_eq!(
        other.get(&path, Some(&admin)).await.expect(200)["category"]["name_en"],
        "Noise at night"
    );
}

#[actix_web::test]
async fn a_category_created_on_another_replica_shows_with_its_first_ticket() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let root = app.superadmin().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    // This replica remembers the catalogue from before the new category.
    app.get("/api/v1/tickets?limit=5", Some(&admin)).await.expect(200);

    other
        .post(
            "/api/v1/categories",
            Some(&root),
            json!({"code": "stairwell", "name_zh": "楼道堆物", "name_en": "Stairwell clutter",
                "kind": "complaint", "entry_level": "building", "accept_hours": 24, "resolve_hours": 72}),
        )
        .await
        .expect(201);
    let ticket = file(&other, &resident, "stairwell").await;
    // Within the TTL, yet shown with its category, and found by it.
    let shown = app.get(&format!("/api/v1/tickets/{ticket}"), Some(&admin)).await;
    assert_eq!(shown.expect(200)["category"]["name_en"], "Stairwell clutter");
    let list = app
        .get("/api/v1/tickets?category=stairwell&limit=5", Some(&admin))
        .await
        .expect(200)
        .clone();
    let ids: Vec<i64> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["id"].as_i64())
        .collect();
    assert_eq!(ids, [ticket]);
    // An unknown code is still refused, however fresh the catalogue.
    let res = app.get("/api/v1/tickets?category=no-such-thing", Some(&admin)).await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["category"]);
}

/// Hours from filing to each deadline, as the ticket shows them.
fn deadline_hours(ticket: &serde_json::Value) -> (i64, i64) {
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(ticket[field].as_str().expect(field)).expect("an RFC 3339 time")
    };
    let created = at("created_at");
    (
        (at("accept_due_at") - created).num_hours(),
        (at("resolve_due_at") - created).num_hours(),
    )
}

#[actix_web::test]
async fn filings_take_category_and_deadline_changes_at_once_here_and_within_the_ttl_on_other_replicas() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let root = app.superadmin().await;
    let resident = app.token("resident01").await;
    let complaint =
        |category: &str| json!({"category": category, "title": "楼道堆物", "description": "三楼楼道堆满纸箱"});
    // Both replicas have filed (and remember the catalogue and the rules).
    file(&app, &resident, "noise").await;
    file(&other, &resident, "noise").await;

    let noise = category_id(&app, &root, "noise").await;
    app.patch(
        &format!("/api/v1/categories/{noise}"),
        Some(&root),
        json!({"active": false}),
    )
    .await
    .expect(200);
    app.request(
        actix_web::http::Method::PUT,
        "/api/v1/sla-policies",
        Some(&root),
        Some(json!({"rules": [{"category": "sanitation", "accept_hours": 1, "resolve_hours": 2}]})),
    )
    .await
    .expect(200);
    // Here at once, and on the other replica after the TTL at the latest:
    // the category is refused, the new rule sets the deadlines.
    for (replica, wait) in [(&app, false), (&other, true)] {
        if wait {
            actix_web::rt::time::sleep(TTL + std::time::Duration::from_millis(200)).await;
        }
        let refused = replica
            .post("/api/v1/complaints", Some(&resident), complaint("noise"))
            .await;
        refused.expect_problem(422, "validation_failed");
        assert_eq!(refused.error_fields(), ["category"]);
        let filed = replica
            .post("/api/v1/complaints", Some(&resident), complaint("sanitation"))
            .await;
        assert_eq!(deadline_hours(filed.expect(201)), (1, 2));
    }
}

#[actix_web::test]
async fn a_category_created_on_another_replica_takes_filings_at_once() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let root = app.superadmin().await;
    let resident = app.token("resident01").await;
    // The other replica remembers the catalogue from before the new category.
    file(&other, &resident, "noise").await;
    app.post(
        "/api/v1/categories",
        Some(&root),
        json!({"code": "stairwell", "name_zh": "楼道堆物", "name_en": "Stairwell clutter",
            "kind": "complaint", "entry_level": "building", "accept_hours": 5, "resolve_hours": 7}),
    )
    .await
    .expect(201);
    let ticket = other
        .post(
            "/api/v1/complaints",
            Some(&resident),
            json!({"category": "stairwell", "title": "楼道堆物", "description": "三楼楼道堆满纸箱"}),
        )
        .await;
    let ticket = ticket.expect(201);
    assert_eq!(ticket["category"]["code"], "stairwell");
    assert_eq!(deadline_hours(ticket), (5, 7));
}
