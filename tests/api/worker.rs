//! The deadline worker (督办): escalation of tickets not signed for in time,
//! breach flags, auto-close, and exactly-once handling with two workers.

use chrono::Duration;
use griddesk::worker::{Report, run_once};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::tickets::file;

async fn pass(app: &TestApp) -> Report {
    let db = app.db.clone();
    let now = app.clock.now_naive();
    actix_web::web::block(move || run_once(&db, now))
        .await
        .unwrap()
        .unwrap()
}

async fn ticket(app: &TestApp, id: i64) -> Value {
    let root = app.token("jm.admin").await;
    app.get(&format!("/api/v1/tickets/{id}"), Some(&root))
        .await
        .expect(200)
        .clone()
}

async fn last_event(app: &TestApp, id: i64) -> Value {
    let admin = app.token("jm.admin").await;
    let events = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&admin))
        .await
        .expect(200)
        .clone();
    events["items"].as_array().unwrap().last().unwrap().clone()
}

#[actix_web::test]
async fn tickets_not_signed_for_in_time_climb_the_grid_once_per_deadline() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let id = file(&app, &resident, "noise", "装修噪音").await["id"].as_i64().unwrap();
    assert_eq!(pass(&app).await, Report::default(), "nothing is due yet");

    let mut levels = Vec::new();
    for _ in 0..3 {
        app.clock.advance(Duration::hours(25));
        assert_eq!(pass(&app).await.escalated, 1);
        assert_eq!(
            pass(&app).await,
            Report::default(),
            "each missed deadline escalates once"
        );
        let t = ticket(&app, id).await;
        assert_eq!(
            (t["status"].as_str(), t["overdue"].as_bool()),
            (Some("assigned"), Some(false))
        );
        levels.push(t["current_unit"]["level"].as_str().unwrap().to_owned());
        let event = last_event(&app, id).await;
        assert_eq!(event["kind"], "auto_escalate");
        assert!(event["actor"].is_null(), "a system event has no actor");
    }
    assert_eq!(levels, ["building", "branch", "committee"]);
    assert_eq!(ticket(&app, id).await["escalation_count"], 3);

    // At the committee nothing is above: the breach is flagged, once.
    app.clock.advance(Duration::hours(25));
    assert_eq!(
        pass(&app).await,
        Report {
            accept_breaches: 1,
            ..Report::default()
        }
    );
    assert_eq!(pass(&app).await, Report::default());
    let t = ticket(&app, id).await;
    assert_eq!(
        (t["overdue"].as_bool(), t["current_unit"]["level"].as_str()),
        (Some(true), Some("committee"))
    );
    assert_eq!(last_event(&app, id).await["kind"], "accept_overdue");

    // Signed for at last; the resolve deadline then passes and is flagged once.
    let committee = app.token("jm.committee").await;
    app.post(&format!("/api/v1/tickets/{id}/accept"), Some(&committee), json!({}))
        .await
        .expect(200);
    app.clock.advance(Duration::hours(73));
    assert_eq!(
        pass(&app).await,
        Report {
            resolve_breaches: 1,
            ..Report::default()
        }
    );
    assert_eq!(pass(&app).await, Report::default());
    assert_eq!(last_event(&app, id).await["kind"], "resolve_overdue");
}

#[actix_web::test]
async fn resolutions_left_unconfirmed_for_seven_days_close_themselves() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let worker = app.token("jm.b1.bldg1.h1").await;
    let id = file(&app, &resident, "noise", "装修噪音").await["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/tickets/{id}/accept"), Some(&worker), json!({}))
        .await
        .expect(200);
    app.post(
        &format!("/api/v1/tickets/{id}/resolve"),
        Some(&worker),
        json!({"note": "已协调"}),
    )
    .await
    .expect(200);
    app.clock.advance(Duration::days(6));
    assert_eq!(pass(&app).await.closed, 0);
    app.clock.advance(Duration::days(2));
    assert_eq!(
        pass(&app).await,
        Report {
            closed: 1,
            ..Report::default()
        }
    );
    let t = ticket(&app, id).await;
    assert_eq!(t["status"], "closed");
    assert!(t["rating"].is_null() && t["closed_at"].is_string());
    assert_eq!(last_event(&app, id).await["kind"], "auto_close");
    assert_eq!(pass(&app).await, Report::default());
}

#[actix_web::test]
async fn two_workers_at_once_escalate_each_overdue_ticket_exactly_once() {
    let app = TestApp::with_demo().await;
    // Filed by the admin for the residents (residents themselves may file
    // only 10 an hour), spread over every household.
    let admin = app.token("jm.admin").await;
    let mut residents = Vec::new();
    for n in 1..=20 {
        residents.push(app.user_id(&admin, &format!("resident{n:02}")).await);
    }
    for i in 0..300 {
        let body = json!({"category": "noise", "title": "噪音", "description": "夜间噪音。", "on_behalf_of": residents[i % 20]});
        app.post("/api/v1/complaints", Some(&admin), body).await.expect(201);
    }
    for round in 1..=3 {
        app.clock.advance(Duration::hours(25));
        let now = app.clock.now_naive();
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let db = app.db.clone();
                std::thread::spawn(move || {
                    let mut escalated = 0;
                    // Bounded: each pass handles at least one batch or finds nothing.
                    for _ in 0..20 {
                        let report = run_once(&db, now).unwrap();
                        escalated += report.escalated;
                        if report.total() == 0 {
                            break;
                        }
                    }
                    escalated
                })
            })
            .collect();
        let counts: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        eprintln!("round {round}: the two workers escalated {counts:?}");
        assert_eq!(counts.iter().sum::<usize>(), 300, "round {round}: {counts:?}");

        // Every ticket climbed exactly one level this round.
        let admin = app.token("jm.admin").await;
        let mut seen = 0;
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let path = match &cursor {
                Some(c) => format!("/api/v1/tickets?limit=100&cursor={c}"),
                None => "/api/v1/tickets?limit=100".to_owned(),
            };
            let page = app.get(&path, Some(&admin)).await.expect(200).clone();
            for t in page["items"].as_array().unwrap() {
                assert_eq!(t["escalation_count"], round, "ticket {}", t["id"]);
                seen += 1;
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, 300);
    }
    // Each escalation told the reporter once: resident01 filed 15 of them.
    let resident = app.token("resident01").await;
    let mut told = std::collections::BTreeMap::<i64, usize>::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/notifications?limit=100&cursor={c}"),
            None => "/api/v1/notifications?limit=100".to_owned(),
        };
        let page = app.get(&path, Some(&resident)).await.expect(200).clone();
        for n in page["items"].as_array().unwrap() {
            assert_eq!(n["kind"], "moved_up");
            *told.entry(n["ticket_id"].as_i64().unwrap()).or_default() += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(told.len(), 15);
    assert!(told.values().all(|n| *n == 3), "{told:?}");
}

fn hours_between(a: &Value, b: &Value) -> i64 {
    let a: chrono::DateTime<chrono::Utc> = a.as_str().unwrap().parse().unwrap();
    let b: chrono::DateTime<chrono::Utc> = b.as_str().unwrap().parse().unwrap();
    (b - a).num_hours()
}

#[actix_web::test]
async fn deadline_rules_set_the_hours_at_each_arrival() {
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    let empty = app.get("/api/v1/sla-policies", Some(&root)).await.expect(200).clone();
    assert_eq!(empty["rules"], json!([]));
    let rules = json!({"rules": [
        {"level": "household", "accept_hours": 2, "resolve_hours": 10},
        {"level": "building", "accept_hours": 12, "resolve_hours": 48},
        {"category": "noise", "priority": "urgent", "accept_hours": 1, "resolve_hours": 4},
    ]});
    let admin = app.token("jm.admin").await;
    app.request(
        awc::http::Method::PUT,
        "/api/v1/sla-policies",
        Some(&admin),
        Some(rules.clone()),
    )
    .await
    .expect_problem(403, "forbidden");
    let stored = app
        .request(awc::http::Method::PUT, "/api/v1/sla-policies", Some(&root), Some(rules))
        .await;
    assert_eq!(stored.expect(200)["rules"][2]["category"], "noise");
    let resident = app.token("resident01").await;
    assert_eq!(
        app.get("/api/v1/sla-policies", Some(&resident)).await.expect(200)["rules"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // A household rule applies to a normal noise complaint at the household…
    let normal = file(&app, &resident, "noise", "噪音").await;
    assert_eq!(hours_between(&normal["created_at"], &normal["accept_due_at"]), 2);
    assert_eq!(hours_between(&normal["created_at"], &normal["resolve_due_at"]), 10);
    // …the category-and-priority rule to an urgent one…
    let body = json!({"category": "noise", "title": "紧急噪音", "description": "深夜施工。", "priority": "urgent"});
    let urgent = app
        .post("/api/v1/complaints", Some(&resident), body)
        .await
        .expect(201)
        .clone();
    assert_eq!(hours_between(&urgent["created_at"], &urgent["accept_due_at"]), 1);
    // …the category's own hours where no rule matches (parking enters at the branch)…
    let parking = file(&app, &resident, "parking", "停车").await;
    assert_eq!(hours_between(&parking["created_at"], &parking["accept_due_at"]), 24);
    // …and the building rule once the worker escalates the normal one there.
    app.clock.advance(Duration::hours(3));
    assert_eq!(
        pass(&app).await.escalated,
        2,
        "both noise tickets missed their household deadline"
    );
    let escalated = ticket(&app, normal["id"].as_i64().unwrap()).await;
    assert_eq!(escalated["current_unit"]["level"], "building");
    assert_eq!(hours_between(&escalated["updated_at"], &escalated["accept_due_at"]), 12);

    let root = app.token("root").await;
    let bad = json!({"rules": [
        {"category": "nope", "accept_hours": 1, "resolve_hours": 2},
        {"accept_hours": 1, "resolve_hours": 2},
        {"level": "branch", "accept_hours": 10, "resolve_hours": 5},
        {"level": "household", "accept_hours": 1, "resolve_hours": 2},
        {"level": "household", "accept_hours": 3, "resolve_hours": 4},
    ]});
    let res = app
        .request(awc::http::Method::PUT, "/api/v1/sla-policies", Some(&root), Some(bad))
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(
        res.error_fields(),
        ["rules[0].category", "rules[1]", "rules[2].resolve_hours", "rules[4]"]
    );
    // Nothing changed.
    assert_eq!(
        app.get("/api/v1/sla-policies", Some(&root)).await.expect(200)["rules"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let cleared = app
        .request(
            awc::http::Method::PUT,
            "/api/v1/sla-policies",
            Some(&root),
            Some(json!({"rules": []})),
        )
        .await;
    assert_eq!(cleared.expect(200)["rules"], json!([]));
}

#[actix_web::test]
async fn extensions_are_asked_below_and_decided_one_level_up() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let building = app.token("jm.b1.bldg1").await;
    let other_building = app.token("jm.b1.bldg2").await;
    let t = file(&app, &resident, "noise", "装修噪音").await;
    let id = t["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/tickets/{id}/accept"), Some(&household), json!({}))
        .await
        .expect(200);
    let path = format!("/api/v1/tickets/{id}/extension-requests");

    app.post(&path, Some(&resident), json!({"hours": 48, "reason": "x"}))
        .await
        .expect_problem(403, "forbidden");
    let res = app
        .post(&path, Some(&household), json!({"hours": 0, "reason": ""}))
        .await;
    assert_eq!(res.error_fields(), ["hours", "reason"]);
    let asked = app
        .post(
            &path,
            Some(&household),
            json!({"hours": 48, "reason": "需等待物业采购配件"}),
        )
        .await;
    let asked = asked.expect(201).clone();
    assert_eq!(
        (asked["status"].as_str(), asked["hours"].as_i64()),
        (Some("pending"), Some(48))
    );
    let again = app
        .post(&path, Some(&household), json!({"hours": 24, "reason": "再延"}))
        .await;
    again.expect_problem(409, "extension_pending");

    let request = asked["id"].as_i64().unwrap();
    let approve = format!("/api/v1/extension-requests/{request}/approve");
    // Not by the unit that asked, nor by a neighbouring building, nor by residents.
    app.post(&approve, Some(&household), json!({}))
        .await
        .expect_problem(403, "forbidden");
    app.post(&approve, Some(&other_building), json!({}))
        .await
        .expect_problem(404, "not_found");
    app.post(&approve, Some(&resident), json!({}))
        .await
        .expect_problem(403, "forbidden");
    let decided = app
        .request(
            awc::http::Method::POST,
            &approve,
            Some(&building),
            Some(json!({"note": "同意延期两天"})),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (
            decided["status"].as_str(),
            decided["decided_by"]["display_name"].as_str()
        ),
        (Some("approved"), Some("军门1号楼党小组长"))
    );
    let after = ticket(&app, id).await;
    assert_eq!(hours_between(&t["resolve_due_at"], &after["resolve_due_at"]), 48);
    assert_eq!(after["version"], t["version"].as_i64().unwrap() + 2);
    app.post(&approve, Some(&building), json!({}))
        .await
        .expect_problem(409, "extension_decided");

    // A second request, denied (no body needed).
    let second = app
        .post(&path, Some(&household), json!({"hours": 24, "reason": "还需一天"}))
        .await
        .expect(201)
        .clone();
    let deny = format!("/api/v1/extension-requests/{}/deny", second["id"]);
    let denied = app
        .request(awc::http::Method::POST, &deny, Some(&building), None)
        .await
        .expect(200)
        .clone();
    assert_eq!(denied["status"], "denied");
    assert_eq!(ticket(&app, id).await["resolve_due_at"], after["resolve_due_at"]);

    let list = app.get(&path, Some(&resident)).await.expect(200).clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let admin = app.token("jm.admin").await;
    let events = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&admin))
        .await
        .expect(200)
        .clone();
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "filed",
            "accept",
            "extension_requested",
            "extension_approved",
            "extension_requested",
            "extension_denied"
        ]
    );
    app.post("/api/v1/extension-requests/999999/approve", Some(&building), json!({}))
        .await
        .expect_problem(404, "not_found");
    let stranger = app.token("resident02").await;
    app.get(&path, Some(&stranger)).await.expect_problem(404, "not_found");
}

#[actix_web::test]
async fn whoever_asks_for_more_time_never_decides_it() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let committee_staff = app.token("jm.committee").await;
    let building = app.token("jm.b1.bldg1").await;
    let admin = app.token("jm.admin").await;
    let root = app.superadmin().await;
    let ask = |id: i64| format!("/api/v1/tickets/{id}/extension-requests");
    let decide = |request: &Value, how: &str| format!("/api/v1/extension-requests/{}/{how}", request["id"]);
    let reason = json!({"hours": 24, "reason": "等待配件"});

    // Committee staff work the household's ticket, so they may ask; the
    // building above would decide, and they work there too: not their own.
    let id = file(&app, &resident, "noise", "装修噪音").await["id"].as_i64().unwrap();
    let asked = app
        .post(&ask(id), Some(&committee_staff), reason.clone())
        .await
        .expect(201)
        .clone();
    for how in ["approve", "deny"] {
        app.post(&decide(&asked, how), Some(&committee_staff), json!({}))
            .await
            .expect_problem(403, "own_request");
    }
    app.post(&decide(&asked, "approve"), Some(&building), json!({}))
        .await
        .expect(200);

    // Nor does a super-admin, who may ask anywhere.
    let id = file(&app, &resident, "noise", "又有噪音").await["id"].as_i64().unwrap();
    let asked = app
        .post(&ask(id), Some(&root), reason.clone())
        .await
        .expect(201)
        .clone();
    app.post(&decide(&asked, "deny"), Some(&root), json!({}))
        .await
        .expect_problem(403, "own_request");
    app.post(&decide(&asked, "deny"), Some(&building), json!({}))
        .await
        .expect(200);

    // A committee's request goes to its admins: another admin than the one who asked.
    let id = file(&app, &resident, "noise", "夜间噪音").await["id"].as_i64().unwrap();
    for _ in 0..3 {
        app.post(
            &format!("/api/v1/tickets/{id}/escalate"),
            Some(&admin),
            json!({"reason": "上报"}),
        )
        .await
        .expect(200);
    }
    let asked = app
        .post(&ask(id), Some(&admin), reason.clone())
        .await
        .expect(201)
        .clone();
    app.post(&decide(&asked, "approve"), Some(&admin), json!({}))
        .await
        .expect_problem(403, "own_request");
    app.post(&decide(&asked, "approve"), Some(&committee_staff), json!({}))
        .await
        .expect_problem(403, "forbidden");
    let committee = app.unit_id(&admin, "JM").await;
    // An admin the asker made is theirs to sign in as: not another person,
    // nor one made through it.
    let second_token = app.new_admin(&admin, committee, "jm.admin2", "第二管理员").await;
    app.post(&decide(&asked, "approve"), Some(&second_token), json!({}))
        .await
        .expect_problem(403, "password_set_by_requester");
    let third = app.new_admin(&second_token, committee, "jm.admin3", "第三管理员").await;
    app.post(&decide(&asked, "approve"), Some(&third), json!({}))
        .await
        .expect_problem(403, "password_set_by_requester");
    // Once the second admin has chosen their own password, the asker can
    // no longer sign in as them: they decide. The third still carries a
    // password the asker could have set.
    app.post(
        "/api/v1/me/password",
        Some(&second_token),
        json!({"current_password": crate::support::PASSWORD, "new_password": "second-admins-own-password"}),
    )
    .await
    .expect(204);
    let second_token = app.login_tokens("jm.admin2", "second-admins-own-password").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&decide(&asked, "approve"), Some(&third), json!({}))
        .await
        .expect_problem(403, "password_set_by_requester");
    // An admin the super-admin made decides.
    let fourth = app.new_admin(&root, committee, "jm.admin4", "第四管理员").await;
    let decided = app
        .post(&decide(&asked, "approve"), Some(&fourth), json!({}))
        .await
        .expect(200)
        .clone();
    assert_eq!(decided["decided_by"]["display_name"], "第四管理员");
    // The second admin, with a password of their own, decides the asker's next request.
    let asked = app
        .post(&ask(id), Some(&admin), reason.clone())
        .await
        .expect(201)
        .clone();
    app.post(&decide(&asked, "deny"), Some(&second_token), json!({}))
        .await
        .expect(200);
}

async fn prune(app: &TestApp) -> usize {
    let db = app.db.clone();
    let now = app.clock.now_naive();
    actix_web::web::block(move || griddesk::worker::prune_sessions(&db, now))
        .await
        .unwrap()
        .unwrap()
}

async fn session_rows(app: &TestApp) -> (i64, i64) {
    use diesel::{QueryDsl, RunQueryDsl};
    use griddesk::db::schema::{refresh_tokens, sessions};
    let db = app.db.clone();
    actix_web::web::block(move || {
        let mut conn = db.conn().unwrap();
        let s: i64 = sessions::table.count().get_result(&mut *conn).unwrap();
        let r: i64 = refresh_tokens::table.count().get_result(&mut *conn).unwrap();
        (s, r)
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn ended_sessions_are_deleted_a_day_after_they_end() {
    let app = TestApp::with_demo().await;
    let kept = app.login_tokens("resident01", crate::support::PASSWORD).await;
    let ended = app.login_tokens("resident02", crate::support::PASSWORD).await;
    app.post(
        "/api/v1/auth/logout",
        Some(ended["access_token"].as_str().unwrap()),
        json!({}),
    )
    .await
    .expect(204);
    assert_eq!(session_rows(&app).await, (2, 2));
    assert_eq!(prune(&app).await, 0, "ended less than a day ago");

    app.clock.advance(Duration::hours(25));
    assert_eq!(prune(&app).await, 1, "the signed-out session");
    assert_eq!(session_rows(&app).await, (1, 1));
    // The live session is untouched and keeps rotating.
    let rotated = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": kept["refresh_token"]}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(
        session_rows(&app).await,
        (1, 2),
        "the spent token stays for replay detection"
    );
    assert_eq!(prune(&app).await, 0);

    // A day after its last refresh token expired, it goes too, tokens and all.
    app.clock.advance(Duration::days(30) + Duration::hours(12));
    assert_eq!(prune(&app).await, 0, "expired less than a day ago");
    app.clock.advance(Duration::days(1));
    assert_eq!(prune(&app).await, 1);
    assert_eq!(session_rows(&app).await, (0, 0));
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": rotated["refresh_token"]}),
    )
    .await
    .expect(401);
}
