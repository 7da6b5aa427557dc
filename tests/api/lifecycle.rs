//! The ticket lifecycle over HTTP: who may do what, when, and what it leaves
//! on the timeline.

use awc::http::Method;
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::tickets::file;

async fn act(app: &TestApp, token: &str, id: i64, action: &str, body: Value) -> crate::support::Res {
    app.post(&format!("/api/v1/tickets/{id}/{action}"), Some(token), body)
        .await
}

fn kinds(events: &Value) -> Vec<String> {
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_complaint_is_signed_for_resolved_and_rated() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let worker = app.token("jm.b1.bldg1.h1").await;
    let ticket = file(&app, &resident, "noise", "装修噪音").await;
    let id = ticket["id"].as_i64().unwrap();

    // Accept takes no body at all.
    let res = app
        .request(
            Method::POST,
            &format!("/api/v1/tickets/{id}/accept"),
            Some(&worker),
            None,
        )
        .await;
    let accepted = res.expect(200).clone();
    assert_eq!(res.header("etag"), Some("\"2\""));
    assert_eq!(
        (accepted["status"].as_str(), accepted["version"].as_i64()),
        (Some("accepted"), Some(2))
    );
    assert!(accepted["accepted_at"].is_string());
    let resolved = act(
        &app,
        &worker,
        id,
        "resolve",
        json!({"note": "已协调，改为9点后施工。", "version": 2}),
    )
    .await;
    let resolved = resolved.expect(200).clone();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolution"], "已协调，改为9点后施工。");
    let mine = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&resident))
        .await
        .expect(200)
        .clone();
    assert_eq!(mine["actions"], json!(["reopen", "close"]));
    let closed = act(&app, &resident, id, "close", json!({"rating": 5, "feedback": "很满意"}))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (closed["status"].as_str(), closed["rating"].as_i64()),
        (Some("closed"), Some(5))
    );
    assert!(closed["closed_at"].is_string());
    assert_eq!(closed["actions"], json!([]));

    let events = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&resident))
        .await
        .expect(200)
        .clone();
    assert_eq!(kinds(&events), ["filed", "accept", "resolve", "close"]);
    let accept = &events["items"][1];
    assert_eq!(
        (accept["from_status"].as_str(), accept["to_status"].as_str()),
        (Some("assigned"), Some("accepted"))
    );
    assert_eq!(accept["actor"]["display_name"], "王党员");
    assert_eq!(events["items"][3]["note"], "很满意");
    assert_eq!(events["items"][3]["actor"]["display_name"], "王芳");
}

#[actix_web::test]
async fn escalation_and_return_move_the_ticket_along_the_grid() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let id = file(&app, &resident, "noise", "装修噪音").await["id"].as_i64().unwrap();
    let household_id = app.unit_id(&admin, "JM-B1-01-H1").await;
    let building_id = app.unit_id(&admin, "JM-B1-01").await;

    act(&app, &household, id, "accept", json!({})).await.expect(200);
    app.clock.advance(Duration::hours(30));
    let (household, building) = (app.token("jm.b1.bldg1.h1").await, app.token("jm.b1.bldg1").await);
    let up = act(&app, &household, id, "escalate", json!({"reason": "需要楼栋协调"}))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (up["status"].as_str(), up["current_unit_id"].as_i64()),
        (Some("assigned"), Some(building_id))
    );
    assert_eq!(up["escalation_count"], 1);
    assert!(up["accepted_at"].is_null());
    // Fresh deadlines at the new unit.
    assert_eq!(up["overdue"], false);
    // The household still reads it, but no longer works it.
    let seen = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&household))
        .await
        .expect(200)
        .clone();
    assert_eq!(seen["actions"], json!([]));
    act(&app, &household, id, "accept", json!({}))
        .await
        .expect_problem(403, "forbidden");

    let back = act(&app, &building, id, "return", json!({"reason": "楼内事务请中心户处理"}))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (back["current_unit_id"].as_i64(), back["bounce_count"].as_i64()),
        (Some(household_id), Some(1))
    );
    // A ticket that arrived by return cannot be returned again.
    let res = act(&app, &household, id, "return", json!({"reason": "x"})).await;
    res.expect_problem(409, "nothing_to_return");

    // Up to the committee, where only referral leads further out.
    act(&app, &household, id, "escalate", json!({"reason": "a"}))
        .await
        .expect(200);
    act(&app, &building, id, "escalate", json!({"reason": "b"}))
        .await
        .expect(200);
    let secretary = app.token("jm.branch1").await;
    act(&app, &building, id, "refer", json!({"target": "12345"}))
        .await
        .expect_problem(403, "forbidden");
    act(&app, &secretary, id, "escalate", json!({"reason": "c"}))
        .await
        .expect(200);
    let committee = app.token("jm.committee").await;
    act(&app, &committee, id, "escalate", json!({"reason": "d"}))
        .await
        .expect_problem(409, "no_parent");
    let referred = act(
        &app,
        &committee,
        id,
        "refer",
        json!({"target": "12345市长热线", "note": "市政问题"}),
    )
    .await
    .expect(200)
    .clone();
    assert_eq!(
        (referred["status"].as_str(), referred["referred_to"].as_str()),
        (Some("referred"), Some("12345市长热线"))
    );
    let admin = app.token("jm.admin").await;
    let events = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        kinds(&events),
        [
            "filed", "accept", "escalate", "return", "escalate", "escalate", "escalate", "refer"
        ]
    );
    let escalate = &events["items"][2];
    assert_eq!(
        (escalate["from_unit_id"].as_i64(), escalate["to_unit_id"].as_i64()),
        (Some(household_id), Some(building_id))
    );
    assert_eq!(escalate["note"], "需要楼栋协调");
}

#[actix_web::test]
async fn higher_units_dispatch_into_their_subtree_only() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let id = file(&app, &resident, "property_management", "物业不作为").await["id"]
        .as_i64()
        .unwrap();
    let secretary = app.token("jm.branch1").await;
    let other_branch_building = app.unit_id(&admin, "JM-B2-01").await;
    let res = act(
        &app,
        &secretary,
        id,
        "dispatch",
        json!({"unit_id": other_branch_building}),
    )
    .await;
    assert_eq!(res.error_fields(), ["unit_id"]);
    let branch = app.unit_id(&admin, "JM-B1").await;
    let res = act(&app, &secretary, id, "dispatch", json!({"unit_id": branch})).await;
    assert_eq!(res.error_fields(), ["unit_id"], "not to itself");
    let building = app.unit_id(&admin, "JM-B1-01").await;
    let down = act(
        &app,
        &secretary,
        id,
        "dispatch",
        json!({"unit_id": building, "note": "请楼栋先了解"}),
    )
    .await
    .expect(200)
    .clone();
    assert_eq!(
        (down["status"].as_str(), down["current_unit_id"].as_i64()),
        (Some("assigned"), Some(building))
    );
    let leader = app.token("jm.b1.bldg1").await;
    let back = act(&app, &leader, id, "return", json!({"reason": "需支部协调物业"}))
        .await
        .expect(200)
        .clone();
    assert_eq!(back["current_unit_id"], branch);
}

#[actix_web::test]
async fn a_rejected_resolution_goes_back_within_seven_days_only() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let worker = app.token("jm.b1.bldg1.h1").await;
    let resolve = |id: i64| {
        let app = &app;
        let worker = worker.clone();
        async move {
            act(app, &worker, id, "accept", json!({})).await.expect(200);
            act(app, &worker, id, "resolve", json!({"note": "已处理"}))
                .await
                .expect(200);
        }
    };
    let id = file(&app, &resident, "noise", "噪音").await["id"].as_i64().unwrap();
    resolve(id).await;
    let reopened = act(&app, &resident, id, "reopen", json!({"reason": "噪音依旧"}))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (reopened["status"].as_str(), reopened["reopen_count"].as_i64()),
        (Some("assigned"), Some(1))
    );
    assert!(reopened["resolution"].is_null());
    assert_eq!(reopened["current_unit"]["level"], "household");
    // Others may not reopen it.
    let late = file(&app, &resident, "noise", "又一次噪音").await["id"]
        .as_i64()
        .unwrap();
    resolve(late).await;
    act(&app, &worker, late, "reopen", json!({"reason": "x"}))
        .await
        .expect_problem(403, "forbidden");
    app.clock.advance(Duration::days(8));
    let resident = app.token("resident01").await;
    act(&app, &resident, late, "reopen", json!({"reason": "x"}))
        .await
        .expect_problem(409, "reopen_window_closed");
    let res = act(&app, &resident, late, "close", json!({"rating": 6})).await;
    assert_eq!(res.error_fields(), ["rating"]);
    act(&app, &resident, late, "close", json!({"rating": 2}))
        .await
        .expect(200);
}

#[actix_web::test]
async fn actions_outside_the_status_machine_are_409_with_what_is_allowed() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let worker = app.token("jm.b1.bldg1.h1").await;
    let id = file(&app, &resident, "noise", "噪音").await["id"].as_i64().unwrap();
    let res = act(&app, &worker, id, "resolve", json!({"note": "x"})).await;
    let problem = res.expect_problem(409, "invalid_transition");
    assert_eq!(problem["current_status"], "assigned");
    assert_eq!(
        problem["allowed_actions"],
        json!(["accept", "escalate", "reject", "merge"])
    );
    let seen = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&worker))
        .await
        .expect(200)
        .clone();
    assert_eq!(seen["actions"], problem["allowed_actions"]);
    let res = act(&app, &resident, id, "close", json!({"rating": 5})).await;
    assert_eq!(
        res.expect_problem(409, "invalid_transition")["allowed_actions"],
        json!(["withdraw"])
    );
    let withdrawn = act(&app, &resident, id, "withdraw", json!({"reason": "已自行解决"}))
        .await
        .expect(200)
        .clone();
    assert_eq!(withdrawn["status"], "withdrawn");
    let res = act(&app, &worker, id, "accept", json!({})).await;
    assert_eq!(
        res.expect_problem(409, "invalid_transition")["allowed_actions"],
        json!([])
    );
    // Bodies are checked before anything else happens.
    assert_eq!(
        act(&app, &worker, id, "resolve", json!({})).await.error_fields(),
        ["note"]
    );
    assert_eq!(
        act(&app, &worker, id, "escalate", json!({"reason": " "}))
            .await
            .error_fields(),
        ["reason"]
    );
    assert_eq!(
        act(&app, &worker, id, "accept", json!({"status": "closed"}))
            .await
            .error_fields(),
        ["status"]
    );
}

#[actix_web::test]
async fn stale_versions_are_refused_412_by_if_match_and_409_by_the_body() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let worker = app.token("jm.b1.bldg1.h1").await;
    let id = file(&app, &resident, "noise", "噪音").await["id"].as_i64().unwrap();
    // A stale `version` in the body conflicts with the ticket's state: 409.
    let res = act(&app, &worker, id, "accept", json!({"version": 7})).await;
    assert_eq!(res.expect_problem(409, "version_mismatch")["current_version"], 1);
    let path = format!("/api/v1/tickets/{id}/accept");
    // A failed precondition header is 412 (RFC 9110).
    let res = app
        .raw(Method::POST, &path, Some(&worker), &[("If-Match", "\"9\"")], None)
        .await;
    res.expect_problem(412, "version_mismatch");
    // Only the documented forms are ETags of this API.
    for bad in [
        "not-an-etag",
        "1",
        "\"+1\"",
        "\"-1\"",
        "\"1234567890123456789\"",
        "\"\"",
    ] {
        let res = app
            .raw(Method::POST, &path, Some(&worker), &[("If-Match", bad)], None)
            .await;
        res.expect_problem(400, "invalid_if_match");
    }
    let res = app
        .raw(Method::POST, &path, Some(&worker), &[("If-Match", "\"1\"")], None)
        .await;
    res.expect(200);
    let path = format!("/api/v1/tickets/{id}/resolve");
    let body = json!({"note": "done"}).to_string().into_bytes();
    let res = app
        .raw(
            Method::POST,
            &path,
            Some(&worker),
            &[("If-Match", "W/\"1\"")],
            Some(("application/json", body.clone())),
        )
        .await;
    assert_eq!(res.expect_problem(412, "version_mismatch")["current_version"], 2);
    // The header and the body's `version` must name the same version.
    let both = json!({"note": "done", "version": 1}).to_string().into_bytes();
    let res = app
        .raw(
            Method::POST,
            &path,
            Some(&worker),
            &[("If-Match", "\"2\"")],
            Some(("application/json", both)),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["version"]);
    assert_eq!(res.body["errors"][0]["code"], "disagrees_with_if_match");
    let res = app
        .raw(
            Method::POST,
            &path,
            Some(&worker),
            &[("If-Match", "\"2\"")],
            Some(("application/json", body)),
        )
        .await;
    res.expect(200);
}

#[actix_web::test]
async fn callers_who_may_not_act_get_403_and_strangers_404() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let id = file(&app, &resident, "noise", "噪音").await["id"].as_i64().unwrap();
    act(&app, &resident, id, "accept", json!({}))
        .await
        .expect_problem(403, "forbidden");
    let stranger = app.token("resident02").await;
    act(&app, &stranger, id, "withdraw", json!({"reason": "x"}))
        .await
        .expect_problem(404, "not_found");
    let other_household = app.token("jm.b1.bldg1.h2").await;
    act(&app, &other_household, id, "accept", json!({}))
        .await
        .expect_problem(404, "not_found");
    act(&app, &resident, 999_999, "withdraw", json!({"reason": "x"}))
        .await
        .expect_problem(404, "not_found");
    app.post(&format!("/api/v1/tickets/{id}/accept"), None, json!({}))
        .await
        .expect_problem(401, "missing_token");
    // Higher units may work tickets below them.
    let committee = app.token("jm.committee").await;
    act(&app, &committee, id, "accept", json!({})).await.expect(200);
}

#[actix_web::test]
async fn duplicates_merge_into_their_primary_and_rejections_close() {
    let app = TestApp::with_demo().await;
    let r1 = app.token("resident01").await;
    let r2 = app.token("resident02").await;
    let leader = app.token("jm.b1.bldg1").await;
    let primary = file(&app, &r1, "leak", "楼道漏水").await["id"].as_i64().unwrap();
    let duplicate = file(&app, &r2, "leak", "楼道也在漏水").await["id"].as_i64().unwrap();
    let res = act(&app, &leader, duplicate, "merge", json!({"into_ticket_id": duplicate})).await;
    assert_eq!(res.error_fields(), ["into_ticket_id"]);
    let res = act(&app, &leader, duplicate, "merge", json!({"into_ticket_id": 999_999})).await;
    assert_eq!(res.error_fields(), ["into_ticket_id"]);
    let merged = act(&app, &leader, duplicate, "merge", json!({"into_ticket_id": primary}))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (merged["status"].as_str(), merged["merged_into_id"].as_i64()),
        (Some("merged"), Some(primary))
    );
    let admin = app.token("jm.admin").await;
    let events = app
        .get(&format!("/api/v1/tickets/{primary}/events"), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(kinds(&events), ["filed", "merged_duplicate"]);
    assert!(
        events["items"][1]["note"]
            .as_str()
            .unwrap()
            .contains(&duplicate.to_string())
    );

    let third = file(&app, &r1, "leak", "无关诉求").await["id"].as_i64().unwrap();
    let rejected = act(&app, &leader, third, "reject", json!({"reason": "不属于社区管辖"}))
        .await
        .expect(200)
        .clone();
    assert_eq!(rejected["status"], "rejected");
    let res = act(&app, &leader, third, "merge", json!({"into_ticket_id": primary})).await;
    res.expect_problem(409, "invalid_transition");
}

#[actix_web::test]
async fn comments_are_public_or_internal() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let worker = app.token("jm.b1.bldg1.h1").await;
    let id = file(&app, &resident, "noise", "噪音").await["id"].as_i64().unwrap();
    let path = format!("/api/v1/tickets/{id}/comments");
    let public = app
        .post(&path, Some(&worker), json!({"body": "已上门了解情况"}))
        .await
        .expect(201)
        .clone();
    assert_eq!(
        (public["kind"].as_str(), public["internal"].as_bool()),
        (Some("comment"), Some(false))
    );
    app.post(
        &path,
        Some(&worker),
        json!({"body": "该住户多次投诉", "internal": true}),
    )
    .await
    .expect(201);
    app.post(&path, Some(&resident), json!({"body": "谢谢"}))
        .await
        .expect(201);
    let res = app
        .post(&path, Some(&resident), json!({"body": "x", "internal": true}))
        .await;
    res.expect_problem(403, "staff_only");
    assert_eq!(
        app.post(&path, Some(&resident), json!({"body": ""}))
            .await
            .error_fields(),
        ["body"]
    );
    let stranger = app.token("resident02").await;
    app.post(&path, Some(&stranger), json!({"body": "x"}))
        .await
        .expect_problem(404, "not_found");

    let mine = app.get(&path, Some(&resident)).await.expect(200).clone();
    let notes: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["note"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["已上门了解情况", "谢谢"]);
    let staff = app.get(&path, Some(&worker)).await.expect(200).clone();
    assert_eq!(staff["items"].as_array().unwrap().len(), 3);
    let timeline = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&resident))
        .await
        .expect(200)
        .clone();
    assert_eq!(kinds(&timeline), ["filed", "comment", "comment"]);
}

#[actix_web::test]
async fn of_two_workers_signing_for_one_ticket_at_once_exactly_one_wins() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let building = app.token("jm.b1.bldg1").await;
    for round in 0..5 {
        let id = file(&app, &resident, "noise", &format!("噪音{round}")).await["id"]
            .as_i64()
            .unwrap();
        let (a, b) = futures_util::join!(
            act(&app, &household, id, "accept", json!({})),
            act(&app, &building, id, "accept", json!({}))
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "round {round}: {} / {}", a.text, b.text);
        let loser = if a.status.as_u16() == 409 { a } else { b };
        loser.expect_problem(409, "invalid_transition");
        let admin = app.token("jm.admin").await;
        let events = app
            .get(&format!("/api/v1/tickets/{id}/events"), Some(&admin))
            .await
            .expect(200)
            .clone();
        assert_eq!(kinds(&events), ["filed", "accept"]);
    }
}
