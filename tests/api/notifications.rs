//! Notifications over HTTP: who is told what as a ticket moves, what a
//! notification may say, and the feed (pages, unread, marking read).

use awc::http::Method;
use chrono::{DateTime, Duration, Utc};
use griddesk::worker::run_once;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::tickets::file;

async fn feed(app: &TestApp, token: &str, query: &str) -> Value {
    app.get(&format!("/api/v1/notifications{query}"), Some(token))
        .await
        .expect(200)
        .clone()
}

/// (kind, ticket id) of each notification on the caller's first page, newest first.
async fn told(app: &TestApp, token: &str) -> Vec<(String, i64)> {
    feed(app, token, "?limit=100").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["kind"].as_str().unwrap().to_owned(), n["ticket_id"].as_i64().unwrap()))
        .collect()
}

async fn unread(app: &TestApp, token: &str) -> i64 {
    app.get("/api/v1/notifications/unread-count", Some(token))
        .await
        .expect(200)["unread"]
        .as_i64()
        .unwrap()
}

async fn act(app: &TestApp, token: &str, id: i64, action: &str, body: Value) -> Value {
    app.post(&format!("/api/v1/tickets/{id}/{action}"), Some(token), body)
        .await
        .expect(200)
        .clone()
}

fn told_of(list: &[(String, i64)], kind: &str, id: i64) -> bool {
    list.iter().any(|(k, t)| k == kind && *t == id)
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn each_step_tells_the_unit_that_must_act_and_the_reporter() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let building = app.token("jm.b1.bldg1").await;
    let neighbour_household = app.token("jm.b1.bldg1.h2").await;
    let ticket = file(&app, &resident, "noise", "装修噪音").await;
    let id = ticket["id"].as_i64().unwrap();

    // Filed: the household it lands at is told, with its sign-for deadline;
    // the reporter (who did it) and other units are not.
    let page = feed(&app, &household, "").await;
    let first = &page["items"][0];
    assert_eq!(
        (first["kind"].as_str(), first["ticket_id"].as_i64()),
        (Some("arrived"), Some(id))
    );
    assert_eq!(first["unit"]["id"], ticket["current_unit"]["id"]);
    assert_eq!(time(&first["due_at"]), time(&ticket["accept_due_at"]));
    assert!(first["read_at"].is_null());
    assert!(told(&app, &resident).await.is_empty());
    assert!(!told_of(&told(&app, &neighbour_household).await, "arrived", id));
    assert!(!told_of(&told(&app, &building).await, "arrived", id));

    // Signed for, then escalated: the reporter hears both, the building
    // that must now sign for it is told.
    act(&app, &household, id, "accept", json!({})).await;
    act(&app, &household, id, "escalate", json!({"reason": "需楼栋协调"})).await;
    let to_reporter = told(&app, &resident).await;
    assert_eq!(to_reporter, [("moved_up".to_owned(), id), ("accepted".to_owned(), id)]);
    let moved = &feed(&app, &resident, "").await["items"][0];
    assert_eq!(moved["unit"]["level"], "building");
    assert!(told_of(&told(&app, &building).await, "arrived", id));
    assert_eq!(
        told(&app, &household).await.iter().filter(|(_, t)| *t == id).count(),
        1,
        "the household is not told of its own steps"
    );

    // Resolved: the reporter is told when it closes by itself.
    act(&app, &building, id, "accept", json!({})).await;
    let resolved = act(&app, &building, id, "resolve", json!({"note": "已协调"})).await;
    let note = &feed(&app, &resident, "").await["items"][0];
    assert_eq!(note["kind"], "resolved");
    assert_eq!(
        time(&note["due_at"]),
        time(&resolved["resolved_at"]) + Duration::days(7)
    );

    // Reopened by the reporter: the unit that resolved it must sign again.
    act(&app, &resident, id, "reopen", json!({"reason": "仍有噪音"})).await;
    let building_told = told(&app, &building).await;
    assert_eq!(
        building_told.iter().filter(|(k, t)| k == "arrived" && *t == id).count(),
        2
    );
    assert!(
        told(&app, &resident).await.iter().all(|(k, _)| k != "reopened"),
        "not told of their own step"
    );
}

#[actix_web::test]
async fn a_notification_of_an_anonymous_ticket_is_the_same_as_of_a_named_one() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let me = app.get("/api/v1/me", Some(&resident)).await.expect(200).clone();
    for anonymous in [false, true] {
        let body =
            json!({"category": "noise", "title": "楼上噪音", "description": "夜间噪音。", "anonymous": anonymous});
        app.post("/api/v1/complaints", Some(&resident), body).await.expect(201);
    }
    let page = feed(&app, &household, "?limit=2").await;
    let mut items: Vec<Value> = page["items"].as_array().unwrap().clone();
    for item in &mut items {
        let text = item.to_string();
        for personal in [&me["display_name"], &me["room"], &me["username"]] {
            assert!(!text.contains(personal.as_str().unwrap()), "{text} names {personal}");
        }
        let object = item.as_object_mut().unwrap();
        for varies in ["id", "ticket_id", "created_at", "due_at", "body"] {
            object.remove(varies);
        }
    }
    assert_eq!(items[0], items[1], "who filed must not change what is said");
    // The sentences differ only by the ticket's number and deadline.
    let bodies: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap().replace(&n["ticket_id"].to_string(), "#"))
        .collect();
    assert_eq!(bodies[0].len(), bodies[1].len());
}

#[actix_web::test]
async fn comments_tell_the_other_side_and_internal_notes_no_one() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let id = file(&app, &resident, "noise", "装修噪音").await["id"].as_i64().unwrap();
    let comment = |token: String, body: Value| {
        let app = &app;
        async move {
            app.post(&format!("/api/v1/tickets/{id}/comments"), Some(&token), body)
                .await
                .expect(201);
        }
    };
    comment(household.clone(), json!({"body": "内部：先核实。", "internal": true})).await;
    assert!(told(&app, &resident).await.is_empty(), "an internal note tells no one");
    comment(household.clone(), json!({"body": "已联系物业。"})).await;
    assert_eq!(told(&app, &resident).await, [("commented".to_owned(), id)]);
    let before = unread(&app, &household).await;
    comment(resident.clone(), json!({"body": "谢谢，请尽快。"})).await;
    assert_eq!(unread(&app, &household).await, before + 1);
    assert_eq!(told(&app, &household).await[0], ("commented".to_owned(), id));
    assert_eq!(told(&app, &resident).await.len(), 1, "not told of their own comment");
}

#[actix_web::test]
async fn missed_deadlines_tell_the_next_unit_and_the_reporter_hears_it_moved_up() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let id = file(&app, &resident, "noise", "装修噪音").await["id"].as_i64().unwrap();
    app.clock.advance(Duration::hours(25));
    let resident = app.token("resident01").await;
    let building = app.token("jm.b1.bldg1").await;
    let db = app.db.clone();
    let now = app.clock.now_naive();
    let report = actix_web::web::block(move || run_once(&db, now))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.escalated, 1);
    assert!(told_of(&told(&app, &building).await, "arrived", id));
    assert_eq!(told(&app, &resident).await, [("moved_up".to_owned(), id)]);
}

#[actix_web::test]
async fn the_feed_pages_filters_unread_and_marks_read_only_ones_own() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let other = app.token("jm.b1.bldg1.h2").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            file(&app, &resident, "noise", &format!("噪音{n}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(unread(&app, &household).await, 5);

    // Pages of two, newest first, with nothing lost or repeated.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let query = match &cursor {
            Some(c) => format!("?limit=2&cursor={c}"),
            None => "?limit=2".to_owned(),
        };
        let page = feed(&app, &household, &query).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["ticket_id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);

    let all = feed(&app, &household, "").await;
    let notes: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .collect();

    // Another person cannot mark them, nor learn anything by trying.
    let res = app
        .post("/api/v1/notifications/read", Some(&other), json!({"ids": [notes[0]]}))
        .await;
    assert_eq!(res.expect(200)["marked"], 0);
    assert_eq!(unread(&app, &household).await, 5);

    // One by id; then everything up to the third newest; repeating is harmless.
    let res = app
        .post(
            "/api/v1/notifications/read",
            Some(&household),
            json!({"ids": [notes[0]]}),
        )
        .await;
    assert_eq!(
        (res.expect(200)["marked"].as_i64(), res.body["unread"].as_i64()),
        (Some(1), Some(4))
    );
    let first_read = feed(&app, &household, "").await["items"][0]["read_at"].clone();
    assert!(first_read.is_string());
    let res = app
        .post(
            "/api/v1/notifications/read",
            Some(&household),
            json!({"up_to": notes[2]}),
        )
        .await;
    assert_eq!(
        (res.expect(200)["marked"].as_i64(), res.body["unread"].as_i64()),
        (Some(3), Some(1))
    );
    let res = app
        .post(
            "/api/v1/notifications/read",
            Some(&household),
            json!({"ids": [notes[0]], }),
        )
        .await;
    assert_eq!(res.expect(200)["marked"], 0);
    assert_eq!(
        feed(&app, &household, "").await["items"][0]["read_at"],
        first_read,
        "read_at is the first"
    );
    let left = feed(&app, &household, "?unread=true").await;
    let left: Vec<i64> = left["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .collect();
    assert_eq!(left, [notes[1]]);

    // Neither marks nothing; both mark all of either; a sane number of ids.
    let res = app
        .post("/api/v1/notifications/read", Some(&household), json!({}))
        .await;
    assert_eq!(
        (res.expect(200)["marked"].as_i64(), res.body["unread"].as_i64()),
        (Some(0), Some(1))
    );
    for body in [json!({"ids": []}), json!({"ids": (0..101).collect::<Vec<i64>>()})] {
        app.post("/api/v1/notifications/read", Some(&household), body)
            .await
            .expect_problem(422, "validation_failed");
    }
    let res = app
        .post(
            "/api/v1/notifications/read",
            Some(&household),
            json!({"ids": [notes[1]], "up_to": 0}),
        )
        .await;
    assert_eq!(
        (res.expect(200)["marked"].as_i64(), res.body["unread"].as_i64()),
        (Some(1), Some(0))
    );
    app.get("/api/v1/notifications?cursor=nonsense", Some(&household))
        .await
        .expect_problem(422, "validation_failed");
    app.get("/api/v1/notifications", None).await.expect(401);
}

#[actix_web::test]
async fn the_text_follows_accept_language() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let id = file(&app, &resident, "noise", "装修噪音").await["id"].as_i64().unwrap();
    let read = |lang: &'static str| {
        let app = &app;
        let household = &household;
        async move {
            let res = app
                .raw(
                    Method::GET,
                    "/api/v1/notifications",
                    Some(household),
                    &[("accept-language", lang)],
                    None,
                )
                .await;
            res.expect(200)["items"][0].clone()
        }
    };
    let zh = read("zh-CN,zh;q=0.9").await;
    let en = read("en").await;
    assert_eq!(zh["title"], "新工单待签收");
    assert!(zh["body"].as_str().unwrap().contains(&format!("工单 #{id}")));
    assert_eq!(en["title"], "New ticket to sign for");
    assert!(
        en["body"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Ticket #{id} arrived at"))
    );
}

#[actix_web::test]
async fn extensions_go_up_for_a_decision_and_missed_resolutions_urge_the_unit_above() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let building = app.token("jm.b1.bldg1").await;
    let branch = app.token("jm.branch1").await;
    let id = file(&app, &resident, "noise", "装修噪音").await["id"].as_i64().unwrap();
    act(&app, &household, id, "accept", json!({})).await;

    // Asked below, told above; the decision goes back to the unit that asked.
    let request = app
        .post(
            &format!("/api/v1/tickets/{id}/extension-requests"),
            Some(&household),
            json!({"hours": 24, "reason": "等待配件。"}),
        )
        .await
        .expect(201)
        .clone();
    let asked = &feed(&app, &building, "").await["items"][0];
    assert_eq!(
        (asked["kind"].as_str(), asked["ticket_id"].as_i64()),
        (Some("extension_requested"), Some(id))
    );
    assert_eq!(asked["unit"]["level"], "household");
    assert!(!told_of(&told(&app, &branch).await, "extension_requested", id));
    app.post(
        &format!("/api/v1/extension-requests/{}/approve", request["id"]),
        Some(&building),
        json!({}),
    )
    .await
    .expect(200);
    let admin = app.token("jm.admin").await;
    let ticket = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&admin))
        .await
        .expect(200)
        .clone();
    let approved = &feed(&app, &household, "").await["items"][0];
    assert_eq!(approved["kind"], "extension_approved");
    assert_eq!(time(&approved["due_at"]), time(&ticket["resolve_due_at"]));
    assert!(
        told(&app, &resident)
            .await
            .iter()
            .all(|(k, _)| !k.starts_with("extension"))
    );

    // The (extended) deadline to resolve passes: the household is told it
    // missed it, the building is asked to urge it on (催办), once.
    app.clock.advance(Duration::hours(72 + 24 + 1));
    let db = app.db.clone();
    let now = app.clock.now_naive();
    let report = actix_web::web::block(move || run_once(&db, now))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.resolve_breaches, 1);
    let db = app.db.clone();
    actix_web::web::block(move || run_once(&db, now))
        .await
        .unwrap()
        .unwrap();
    let household = app.token("jm.b1.bldg1.h1").await;
    let building = app.token("jm.b1.bldg1").await;
    let overdue = &feed(&app, &household, "").await["items"][0];
    assert_eq!(overdue["kind"], "overdue");
    assert_eq!(time(&overdue["due_at"]), time(&ticket["resolve_due_at"]));
    let urged: Vec<Value> = feed(&app, &building, "?limit=100").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "urged")
        .cloned()
        .collect();
    assert_eq!(urged.len(), 1, "once per missed deadline");
    assert_eq!(urged[0]["unit"]["level"], "household");
    assert_eq!(urged[0]["ticket_id"], id);
}

/// Passes of two workers at once, as two replicas run them; the sum of
/// what they did.
async fn race(app: &TestApp) -> griddesk::worker::Report {
    let now = app.clock.now_naive();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let db = app.db.clone();
            std::thread::spawn(move || run_once(&db, now).unwrap())
        })
        .collect();
    let mut total = griddesk::worker::Report::default();
    for worker in workers {
        let report = worker.join().unwrap();
        total.warnings += report.warnings;
        total.escalated += report.escalated;
        total.closed += report.closed;
        total.follow_ups_due += report.follow_ups_due;
    }
    total
}

#[actix_web::test]
async fn three_quarters_of_a_deadline_gone_warns_the_unit_once_per_deadline() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let ticket = file(&app, &resident, "noise", "装修噪音").await;
    let id = ticket["id"].as_i64().unwrap();
    let due = |kind: &str| time(&ticket[kind]);
    let filed = time(&ticket["created_at"]);
    let to_sign = due("accept_due_at") - filed;
    assert_eq!(race(&app).await.warnings, 0, "nothing is near its deadline");

    // Just short of three quarters: nothing; just past: one warning, however
    // many workers run.
    app.clock.advance(to_sign * 3 / 4 - Duration::minutes(1));
    assert_eq!(race(&app).await.warnings, 0);
    app.clock.advance(Duration::minutes(2));
    assert_eq!(race(&app).await.warnings, 1);
    assert_eq!(race(&app).await.warnings, 0, "once per deadline");
    let household = app.token("jm.b1.bldg1.h1").await;
    let warned = &feed(&app, &household, "").await["items"][0];
    assert_eq!(
        (warned["kind"].as_str(), warned["ticket_id"].as_i64()),
        (Some("sign_for_due_soon"), Some(id))
    );
    assert_eq!(time(&warned["due_at"]), due("accept_due_at"));
    assert!(
        told(&app, &app.token("resident01").await).await.is_empty(),
        "the reporter is not warned"
    );

    // Signed for: the time to resolve, from the same arrival, is watched next.
    act(&app, &household, id, "accept", json!({})).await;
    let to_resolve = due("resolve_due_at") - filed;
    let elapsed = app.clock.now() - filed;
    app.clock.advance(to_resolve * 3 / 4 - elapsed + Duration::minutes(1));
    assert_eq!(race(&app).await.warnings, 1);
    assert_eq!(race(&app).await.warnings, 0);
    let household = app.token("jm.b1.bldg1.h1").await;
    assert_eq!(feed(&app, &household, "").await["items"][0]["kind"], "resolve_due_soon");

    // More time approved: a new deadline, warned of again when its own three
    // quarters are gone.
    let request = app
        .post(
            &format!("/api/v1/tickets/{id}/extension-requests"),
            Some(&household),
            json!({"hours": 48, "reason": "等待配件。"}),
        )
        .await
        .expect(201)
        .clone();
    let building = app.token("jm.b1.bldg1").await;
    app.post(
        &format!("/api/v1/extension-requests/{}/approve", request["id"]),
        Some(&building),
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(race(&app).await.warnings, 0);
    let extended = to_resolve + Duration::hours(48);
    let elapsed = app.clock.now() - filed;
    app.clock.advance(extended * 3 / 4 - elapsed + Duration::minutes(1));
    assert_eq!(race(&app).await.warnings, 1);
    let household = app.token("jm.b1.bldg1.h1").await;
    let again = &feed(&app, &household, "").await["items"][0];
    assert_eq!(again["kind"], "resolve_due_soon");
    assert_eq!(time(&again["due_at"]), filed + extended);
}

#[actix_web::test]
async fn an_agreement_tells_both_parties_and_its_follow_up_visit_tells_the_unit_when_due() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let applicant = app.token("resident01").await;
    let respondent_id = app.user_id(&admin, "resident03").await;
    let body = json!({"category": "neighbour_dispute", "title": "漏水纠纷", "description": "协商未果。",
        "respondents": [{"user_id": respondent_id}]});
    let id = app.post("/api/v1/disputes", Some(&applicant), body).await.expect(201)["id"]
        .as_i64()
        .unwrap();
    let leader = app.token("jm.b1.bldg1").await;
    assert!(told_of(&told(&app, &leader).await, "arrived", id));
    act(&app, &leader, id, "accept", json!({})).await;
    let deadline = (app.clock.now() + Duration::days(20)).to_rfc3339();
    let agreement = app
        .request(
            Method::PUT,
            &format!("/api/v1/disputes/{id}/agreement"),
            Some(&leader),
            Some(json!({"terms": "修复防水层。", "performance_deadline": deadline})),
        )
        .await
        .expect(201)
        .clone();
    let respondent = app.token("resident03").await;
    for party in [&applicant, &respondent] {
        let list = told(&app, party).await;
        assert!(told_of(&list, "agreement_recorded", id), "{list:?}");
        assert!(told_of(&list, "accepted", id), "{list:?}");
    }
    act(&app, &leader, id, "resolve", json!({"note": "调解成功"})).await;
    assert_eq!(feed(&app, &respondent, "").await["items"][0]["kind"], "resolved");

    // The visit falls due 30 days on: the unit is told, once.
    let due = time(&agreement["follow_ups"][0]["due_at"]);
    app.clock.advance(due - app.clock.now() + Duration::minutes(1));
    let now = app.clock.now_naive();
    let db = app.db.clone();
    let report = actix_web::web::block(move || run_once(&db, now))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.follow_ups_due, 1);
    assert_eq!(race(&app).await.total(), 0, "told once");
    let leader = app.token("jm.b1.bldg1").await;
    let reminder = feed(&app, &leader, "?limit=100").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "follow_up_due")
        .cloned()
        .unwrap();
    assert_eq!(reminder["ticket_id"], id);
    assert_eq!(time(&reminder["due_at"]), due);
}

#[actix_web::test]
async fn notifications_past_their_retention_are_deleted_oldest_first() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.user_id(&admin, "resident01").await;
    let file_for = |n: usize| {
        let app = &app;
        async move {
            let admin = app.token("jm.admin").await;
            let body = json!({"category": "noise", "title": format!("噪音{n}"), "description": "夜间噪音。", "on_behalf_of": resident});
            app.post("/api/v1/complaints", Some(&admin), body).await.expect(201)["id"]
                .as_i64()
                .unwrap()
        }
    };
    for n in 0..3 {
        file_for(n).await;
    }
    app.clock.advance(Duration::days(100));
    let kept = [file_for(3).await, file_for(4).await];
    let prune = |app: &TestApp| {
        let db = app.db.clone();
        let now = app.clock.now_naive();
        actix_web::web::block(move || griddesk::worker::prune_notifications(&db, now, 180))
    };
    assert_eq!(prune(&app).await.unwrap().unwrap(), 0, "none is 180 days old");
    app.clock.advance(Duration::days(81));
    assert_eq!(prune(&app).await.unwrap().unwrap(), 3);
    assert_eq!(prune(&app).await.unwrap().unwrap(), 0);
    let household = app.token("jm.b1.bldg1.h1").await;
    let left: Vec<i64> = told(&app, &household).await.into_iter().map(|(_, id)| id).collect();
    assert_eq!(left, [kept[1], kept[0]]);
}

#[actix_web::test]
async fn staff_filing_for_a_resident_at_their_own_unit_are_not_told_of_it() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.user_id(&admin, "resident01").await;
    let building = app.token("jm.b1.bldg1").await;
    let body = json!({"category": "leak", "title": "漏水", "description": "楼道漏水。", "on_behalf_of": resident});
    let id = app
        .post("/api/v1/complaints", Some(&building), body.clone())
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    assert_eq!(unread(&app, &building).await, 0, "not told of their own filing");
    // Filed by someone else, the same building is told.
    let other = app.post("/api/v1/complaints", Some(&admin), body).await.expect(201)["id"]
        .as_i64()
        .unwrap();
    assert_eq!(told(&app, &building).await, [("arrived".to_owned(), other)]);
    assert_ne!(id, other);
}
