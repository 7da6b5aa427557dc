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
    let theirs = app
        .get("/api/v1/audit?limit=100", Some(&other.admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        entries(&theirs)
            .iter()
            .filter(|e| !e.starts_with("superadmin "))
            .count(),
        0,
        "only the super-admin's setting up of their community; their first read is recorded after it answers: {theirs:#}"
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

/// Every entry as "role action object", newest first.
fn entries(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["actor_role"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["object"].as_str().unwrap()
            )
        })
        .collect()
}

#[actix_web::test]
async fn entries_are_filed_under_the_community_of_the_object_acted_on() {
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    let hq = app.unit_id(&root, "HQ").await;
    // jm.admin also serves the second community (their first post is at home).
    let jm_admin_id = app.user_id(&root, "jm.admin").await;
    app.post(
        &format!("/api/v1/units/{hq}/posts"),
        Some(&root),
        json!({"user_id": jm_admin_id}),
    )
    .await
    .expect(201);
    let admin = app.token("jm.admin").await;
    let household = other.household;
    app.patch(
        &format!("/api/v1/units/{household}"),
        Some(&admin),
        json!({"name": "党员中心户·钱家（新）"}),
    )
    .await
    .expect(200);
    let resident01 = app.user_id(&admin, "resident01").await;
    app.get(&format!("/api/v1/users/{resident01}"), Some(&admin))
        .await
        .expect(200);
    // They file for the second community's resident: the path names no
    // object, the new ticket's community files the entry.
    app.post(
        "/api/v1/complaints",
        Some(&admin),
        json!({"category": "noise", "title": "电话反映噪音", "description": "居民来电反映夜间噪音。",
            "on_behalf_of": other.resident_id}),
    )
    .await
    .expect(201);
    // A super-admin's work in the second community: a unit made there, then
    // removed, and a post ended there.
    let building = app
        .post(
            "/api/v1/units",
            Some(&root),
            json!({"level": "building", "name": "2号楼", "code": "HQ-B1-02", "parent_id": other.branch}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    app.delete(&format!("/api/v1/units/{building}"), Some(&root))
        .await
        .expect(204);
    let jm_admin_post = app.post_id(&root, hq, "jm.admin").await;
    app.delete(&format!("/api/v1/posts/{jm_admin_post}"), Some(&root))
        .await
        .expect(204);

    let theirs = entries(
        &app.get("/api/v1/audit?limit=100", Some(&other.admin))
            .await
            .expect(200)
            .clone(),
    );
    for expected in [
        format!("admin PATCH /api/v1/units/{{id}} /api/v1/units/{household}"),
        "admin POST /api/v1/complaints /api/v1/complaints".to_owned(),
        "superadmin POST /api/v1/units /api/v1/units".to_owned(),
        format!("superadmin DELETE /api/v1/units/{{id}} /api/v1/units/{building}"),
        format!("superadmin DELETE /api/v1/posts/{{id}} /api/v1/posts/{jm_admin_post}"),
        format!("superadmin POST /api/v1/units/{{id}}/posts /api/v1/units/{hq}/posts"),
    ] {
        assert!(theirs.contains(&expected), "{expected} missing from {theirs:#?}");
    }
    // The first community's people and objects stay out of the second's trail.
    assert!(
        !theirs
            .iter()
            .any(|e| e.contains(&format!("/api/v1/users/{resident01}"))),
        "{theirs:#?}"
    );
    let ours = entries(
        &app.get("/api/v1/audit?limit=100", Some(&admin))
            .await
            .expect(200)
            .clone(),
    );
    assert!(ours.contains(&format!("admin GET /api/v1/users/{{id}} /api/v1/users/{resident01}")));
    assert!(!ours.contains(&"admin POST /api/v1/complaints /api/v1/complaints".to_owned()));

    // A community whose trail has entries is not deleted; one without can be.
    let empty = app
        .post(
            "/api/v1/units",
            Some(&root),
            json!({"level": "committee", "name": "临时社区", "code": "TMP"}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    app.delete(&format!("/api/v1/units/{empty}"), Some(&root))
        .await
        .expect_problem(409, "unit_in_use");
    let all = entries(
        &app.get("/api/v1/audit?limit=100", Some(&root))
            .await
            .expect(200)
            .clone(),
    );
    assert!(all.contains(&format!("superadmin DELETE /api/v1/units/{{id}} /api/v1/units/{empty}")));
}

#[actix_web::test]
async fn the_trail_cannot_be_changed_or_erased() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let someone = app.user_id(&admin, "resident02").await;
    app.get(&format!("/api/v1/users/{someone}"), Some(&admin))
        .await
        .expect(200);
    // The reads' rows are written off the request path: wait for them.
    app.audit.drain().await;
    let db = app.db.clone();
    let (update, delete) = actix_web::web::block(move || {
        // Each in a transaction of its own (PostgreSQL aborts the rest of a
        // transaction after an error).
        let update = db.write_blocking(|conn| Ok(diesel::sql_query("UPDATE audit_log SET status = 200").execute(conn)));
        let delete = db.write_blocking(|conn| Ok(diesel::sql_query("DELETE FROM audit_log").execute(conn)));
        (
            update.unwrap().map_err(|e| e.to_string()),
            delete.unwrap().map_err(|e| e.to_string()),
        )
    })
    .await
    .unwrap();
    assert!(update.unwrap_err().contains("append-only"));
    assert!(delete.unwrap_err().contains("append-only"));
    let trail = app.get("/api/v1/audit", Some(&admin)).await.expect(200).clone();
    assert_eq!(trail["items"].as_array().unwrap().len(), 2);
}

/// Makes the database refuse the trail's rows of changes that succeed (as a
/// full disk or a broken constraint would), or, with `false`, accept them
/// again. Rows of requests that failed still go in.
async fn refuse_rows_of_changes(app: &TestApp, refuse: bool) {
    let condition = "NEW.kind = 'write' AND NEW.status < 300";
    app.refuse_inserts("refuse_rows_of_changes", "audit_log", condition, refuse)
        .await;
}

/// The write entries of a page as "action object status", newest first.
fn writes(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "write")
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
async fn a_change_commits_with_its_audit_entry_or_not_at_all() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let worker = app.token("jm.b1.bldg1.h1").await;
    let id = crate::tickets::file(&app, &resident, "noise", "夜间噪音").await["id"]
        .as_i64()
        .unwrap();
    let accept = format!("/api/v1/tickets/{id}/accept");
    let resident02 = app.user_id(&admin, "resident02").await;
    let filing = json!({"category": "noise", "title": "电话反映噪音", "description": "居民来电反映夜间噪音。",
        "on_behalf_of": resident02})
    .to_string()
    .into_bytes();
    let json_body = |bytes: Vec<u8>| Some(("application/json", bytes));

    refuse_rows_of_changes(&app, true).await;
    // The sign-for cannot be recorded, so it is not made.
    let res = app
        .raw_faulted(
            awc::http::Method::POST,
            &accept,
            Some(&worker),
            &[],
            json_body(b"{}".to_vec()),
        )
        .await;
    assert_eq!(res.status, 500, "{}", res.text);
    let seen = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&worker))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (seen["status"].as_str(), seen["version"].as_i64()),
        (Some("assigned"), Some(1))
    );
    // Nor is a filing by staff for a resident: its key stays unused.
    let res = app
        .raw_faulted(
            awc::http::Method::POST,
            "/api/v1/complaints",
            Some(&admin),
            &[("Idempotency-Key", "phoned-in-1")],
            json_body(filing.clone()),
        )
        .await;
    assert_eq!(res.status, 500, "{}", res.text);
    // A resident's own filing is not audited: the fault does not touch it.
    crate::tickets::file(&app, &resident, "leak", "楼上漏水").await;

    refuse_rows_of_changes(&app, false).await;
    let res = app
        .raw(
            awc::http::Method::POST,
            "/api/v1/complaints",
            Some(&admin),
            &[("Idempotency-Key", "phoned-in-1")],
            json_body(filing),
        )
        .await;
    res.expect(201);
    assert_eq!(
        res.header("idempotent-replayed"),
        None,
        "the first attempt filed nothing: {}",
        res.text
    );
    app.post(&accept, Some(&worker), json!({})).await.expect(200);

    let trail = app.get("/api/v1/audit", Some(&admin)).await.expect(200).clone();
    assert_eq!(
        writes(&trail),
        [
            format!("POST /api/v1/tickets/{{id}}/accept /api/v1/tickets/{id}/accept 200"),
            "POST /api/v1/complaints /api/v1/complaints 201".to_owned(),
            "POST /api/v1/complaints /api/v1/complaints 500".to_owned(),
            format!("POST /api/v1/tickets/{{id}}/accept /api/v1/tickets/{id}/accept 500"),
        ],
        "the attempts that changed nothing are on the trail with what they answered"
    );
}

#[actix_web::test]
async fn each_write_request_is_one_entry_with_the_status_it_answered() {
    use crate::mediation::{accepted_dispute, stamp};
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    let admin = app.token("jm.admin").await;
    let id = accepted_dispute(&app).await;
    let leader = app.token("jm.b1.bldg1").await;
    let mut answered = Vec::new();
    let mut note = |res: &crate::support::Res| {
        let request_id = res.header("x-request-id").unwrap().to_owned();
        answered.push((request_id, res.status.as_u16()));
    };

    // The agreement answers 201 when first recorded, 200 when revised; the
    // entry is written before the answer, and says what was answered.
    let agreement = format!("/api/v1/disputes/{id}/agreement");
    let deadline = stamp(app.clock.now() + chrono::Duration::days(20));
    for terms in [
        "楼上住户于月底前修复防水层。",
        "楼上住户于月底前修复防水层，并赔偿修缮费800元。",
    ] {
        let res = app
            .request(
                awc::http::Method::PUT,
                &agreement,
                Some(&leader),
                Some(json!({"terms": terms, "performance_deadline": deadline})),
            )
            .await;
        note(&res);
    }
    // A filing by staff, answered again for its key: each answer is an entry.
    let resident02 = app.user_id(&admin, "resident02").await;
    let filing = json!({"category": "noise", "title": "电话反映噪音", "description": "居民来电反映夜间噪音。",
        "on_behalf_of": resident02})
    .to_string()
    .into_bytes();
    for _ in 0..2 {
        let res = app
            .raw(
                awc::http::Method::POST,
                "/api/v1/complaints",
                Some(&admin),
                &[("Idempotency-Key", "phoned-in-2")],
                Some(("application/json", filing.clone())),
            )
            .await;
        note(&res);
    }
    // Invalid, and refused: nothing written, still recorded.
    let res = app
        .patch(
            &format!("/api/v1/users/{resident02}"),
            Some(&admin),
            json!({"phone": "12"}),
        )
        .await;
    note(&res);
    // A password change also writes the attempts counted against guessing
    // (those writes are not the change): one entry each.
    let wrong = json!({"current_password": "not-the-password", "new_password": "a-new-password-2026"});
    let res = app.post("/api/v1/me/password", Some(&leader), wrong).await;
    note(&res);
    let right = json!({"current_password": crate::support::PASSWORD, "new_password": "a-new-password-2026"});
    let res = app.post("/api/v1/me/password", Some(&leader), right).await;
    note(&res);
    let statuses: Vec<u16> = answered.iter().map(|(_, status)| *status).collect();
    assert_eq!(statuses, [201, 200, 201, 201, 422, 403, 204]);

    let trail = app
        .get("/api/v1/audit?limit=100", Some(&root))
        .await
        .expect(200)
        .clone();
    let entries = trail["items"].as_array().unwrap();
    for (request_id, status) in &answered {
        let found: Vec<&Value> = entries
            .iter()
            .filter(|e| e["request_id"] == request_id.as_str())
            .collect();
        assert_eq!(found.len(), 1, "one entry for request {request_id}: {trail:#}");
        assert_eq!(found[0]["status"], *status, "{:#}", found[0]);
        assert_eq!(found[0]["kind"], "write");
    }
    let mut ids: Vec<&str> = entries.iter().map(|e| e["request_id"].as_str().unwrap()).collect();
    let all = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all, "no request has two entries: {trail:#}");

    // The answered status is appended, never written over the entry: only
    // the agreement's 201 differed from what its operation documents first
    // (every other entry was written with the status its answer had).
    let db = app.db.clone();
    let (appended, update, delete) = actix_web::web::block(move || {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let appended = db
            .write_blocking(|conn| {
                Ok(diesel::sql_query("SELECT COUNT(*) AS n FROM audit_answers").get_result::<Count>(conn)?)
            })
            .unwrap()
            .n;
        let update =
            db.write_blocking(|conn| Ok(diesel::sql_query("UPDATE audit_answers SET status = 200").execute(conn)));
        let delete = db.write_blocking(|conn| Ok(diesel::sql_query("DELETE FROM audit_answers").execute(conn)));
        (
            appended,
            update.unwrap().map_err(|e| e.to_string()),
            delete.unwrap().map_err(|e| e.to_string()),
        )
    })
    .await
    .unwrap();
    assert_eq!(appended, 1);
    assert!(update.unwrap_err().contains("append-only"));
    assert!(delete.unwrap_err().contains("append-only"));
}

#[actix_web::test]
async fn a_read_queued_before_a_write_stays_before_it_on_the_trail() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let ticket = crate::tickets::file(&app, &resident, "noise", "楼上夜间噪音").await;
    let id = ticket["id"].as_i64().unwrap();
    let building = app.unit_id(&admin, "JM-B1-01").await;
    // Read rows are gathered for a moment before they are written; the
    // change right after the read is committed at once with its own row.
    for round in 0..3 {
        app.get(&format!("/api/v1/tickets/{id}"), Some(&admin))
            .await
            .expect(200);
        app.patch(
            &format!("/api/v1/units/{building}"),
            Some(&admin),
            json!({"name": format!("一号楼·第{round}次改名")}),
        )
        .await
        .expect(200);
    }
    let trail = app.get("/api/v1/audit", Some(&admin)).await.expect(200).clone();
    let read = format!("GET /api/v1/tickets/{{id}} /api/v1/tickets/{id} 200");
    let write = format!("PATCH /api/v1/units/{{id}} /api/v1/units/{building} 200");
    assert_eq!(
        actions(&trail),
        [write.clone(), read.clone(), write, read],
        "newest first, in the order the requests were made"
    );
}
