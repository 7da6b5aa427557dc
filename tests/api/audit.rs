//! The audit trail: staff and admin writes and admin reads of personal data,
//! append-only, readable by admins for their own communities.

use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::support::TestApp;

fn actions(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .take(4)
        .map(|e| {
            format!(
                "{} {} {}",
                e["action"].as_str().unwrap(),
                e["object"].as_str().unwrap(),
                e["status"]
            )
        })
        .collect()
}

#[actix_web::test]
async fn staff_and_admin_writes_and_admin_reads_of_personal_data_are_on_the_trail() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let worker = app.token("jm.b1.bldg1.h1").await;
    let worker_id = app.user_id(&admin, "jm.b1.bldg1.h1").await;

    // A resident's filing is not audited; the worker's sign-for is, and so
    // is a refused one.
    let ticket = crate::tickets::file(&app, &resident, "noise", "夜间噪音").await;
    let id = ticket["id"].as_i64().unwrap();
    let accepted = app
        .post(&format!("/api/v1/tickets/{id}/accept"), Some(&worker), json!({}))
        .await;
    accepted.expect(200);
    let request_id = accepted.header("x-request-id").unwrap().to_owned();
    app.post(&format!("/api/v1/tickets/{id}/accept"), Some(&worker), json!({}))
        .await
        .expect(409);
    // Staff reading tickets is their work; an admin reading a person is audited.
    app.get("/api/v1/tickets", Some(&worker)).await.expect(200);
    let someone = app.user_id(&admin, "resident02").await;
    app.get(&format!("/api/v1/users/{someone}"), Some(&admin))
        .await
        .expect(200);
    app.get("/api/v1/units", Some(&admin)).await.expect(200);

    let trail = app.get("/api/v1/audit", Some(&admin)).await.expect(200).clone();
    assert_eq!(
        actions(&trail),
        [
            format!("GET /api/v1/users/{{id}} /api/v1/users/{someone} 200"),
            "GET /api/v1/users /api/v1/users 200".to_owned(),
            format!("POST /api/v1/tickets/{{id}}/accept /api/v1/tickets/{id}/accept 409"),
            format!("POST /api/v1/tickets/{{id}}/accept /api/v1/tickets/{id}/accept 200"),
        ],
        "newest first; `user_id` looked the resident up by listing users"
    );
    let accept = &trail["items"][3];
    assert_eq!(accept["request_id"], request_id.as_str());
    assert_eq!(
        (
            accept["actor"]["id"].as_i64(),
            accept["actor_role"].as_str(),
            accept["kind"].as_str()
        ),
        (Some(worker_id), Some("staff"), Some("write"))
    );
    assert_eq!(trail["items"][0]["kind"], "read");
    assert!(!trail.to_string().contains("q="), "queries never reach the trail");

    // Reading the trail is on the trail too; filters and pages work.
    let again = app.get("/api/v1/audit?limit=1", Some(&admin)).await.expect(200).clone();
    assert_eq!(actions(&again), ["GET /api/v1/audit /api/v1/audit 200"]);
    let cursor = again["next_cursor"].as_str().unwrap();
    let next = app
        .get(&format!("/api/v1/audit?limit=1&cursor={cursor}"), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        actions(&next),
        [format!("GET /api/v1/users/{{id}} /api/v1/users/{someone} 200")]
    );
    let by_worker = app
        .get(&format!("/api/v1/audit?actor_id={worker_id}"), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(by_worker["items"].as_array().unwrap().len(), 2);

    // Staff and residents may not read it; another community's admin sees
    // only their own community's entries.
    app.get("/api/v1/audit", Some(&worker))
        .await
        .expect_problem(403, "forbidden");
    app.get("/api/v1/audit", Some(&resident))
        .await
        .expect_problem(403, "forbidden");
    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    let theirs = app.get("/api/v1/audit", Some(&other.admin)).await.expect(200).clone();
    assert_eq!(
        actions(&theirs),
        Vec::<String>::new(),
        "their first read is recorded after it answers"
    );
    let all = app
        .get("/api/v1/audit?limit=100", Some(&root))
        .await
        .expect(200)
        .clone();
    let roles: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor_role"].as_str().unwrap())
        .collect();
    assert!(roles.contains(&"superadmin") && roles.contains(&"admin") && roles.contains(&"staff"));
    let res = app
        .get(
            "/api/v1/audit?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
            Some(&admin),
        )
        .await;
    assert_eq!(res.error_fields(), ["from"]);
}

#[actix_web::test]
async fn the_trail_cannot_be_changed_or_erased() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let someone = app.user_id(&admin, "resident02").await;
    app.get(&format!("/api/v1/users/{someone}"), Some(&admin))
        .await
        .expect(200);
    let db = app.db.clone();
    let (update, delete) = actix_web::web::block(move || {
        let mut conn = db.conn().unwrap();
        let update = diesel::sql_query("UPDATE audit_log SET status = 200").execute(&mut *conn);
        let delete = diesel::sql_query("DELETE FROM audit_log").execute(&mut *conn);
        (update.map_err(|e| e.to_string()), delete.map_err(|e| e.to_string()))
    })
    .await
    .unwrap();
    assert!(update.unwrap_err().contains("append-only"));
    assert!(delete.unwrap_err().contains("append-only"));
    let trail = app.get("/api/v1/audit", Some(&admin)).await.expect(200).clone();
    assert_eq!(trail["items"].as_array().unwrap().len(), 2);
}
