//! Statistics over a subtree and period, as JSON and CSV.

use awc::http::Method;
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::tickets::file;

fn close_to(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 0.01)
}

#[actix_web::test]
async fn statistics_count_where_and_how_fast_tickets_were_handled() {
    let app = TestApp::with_demo().await;
    let start = app.clock.now() - Duration::minutes(1);
    let (r1, r2, r3, r4) = (
        app.token("resident01").await,
        app.token("resident02").await,
        app.token("resident03").await,
        app.token("resident04").await,
    );
    let a = file(&app, &r1, "noise", "A").await["id"].as_i64().unwrap();
    let b = file(&app, &r2, "noise", "B").await["id"].as_i64().unwrap();
    let c = file(&app, &r4, "parking", "C").await["id"].as_i64().unwrap();
    let d = file(&app, &r3, "leak", "D").await["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/tickets/{d}/withdraw"),
        Some(&r3),
        json!({"reason": "已解决"}),
    )
    .await
    .expect(200);

    let act = |who: &'static str, id: i64, action: &'static str, body: Value| {
        let app = &app;
        async move {
            let token = app.token(who).await;
            app.post(&format!("/api/v1/tickets/{id}/{action}"), Some(&token), body)
                .await
                .expect(200);
        }
    };
    app.clock.advance(Duration::hours(2));
    act("jm.b1.bldg1.h1", a, "accept", json!({})).await;
    app.clock.advance(Duration::hours(2));
    act("jm.b1.bldg1.h2", b, "accept", json!({})).await;
    act("jm.b1.bldg1.h2", b, "escalate", json!({"reason": "需楼栋协调"})).await;
    app.clock.advance(Duration::hours(2));
    act("jm.b1.bldg1", b, "accept", json!({})).await;
    app.clock.advance(Duration::hours(2));
    act("jm.branch1", c, "accept", json!({})).await;
    app.clock.advance(Duration::hours(2));
    act("jm.b1.bldg1.h1", a, "resolve", json!({"note": "好了"})).await;
    app.clock.advance(Duration::hours(2));
    act("jm.branch1", c, "resolve", json!({"note": "好了"})).await;
    act("resident04", c, "reopen", json!({"reason": "没好"})).await;
    app.clock.advance(Duration::hours(8));
    act("jm.b1.bldg1", b, "resolve", json!({"note": "好了"})).await;
    act("resident01", a, "close", json!({"rating": 5})).await;
    act("resident02", b, "close", json!({"rating": 3})).await;

    let admin = app.token("jm.admin").await;
    let committee = app.unit_id(&admin, "JM").await;
    let from = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let path = format!("/api/v1/stats?unit_id={committee}&from={from}");
    let stats = app.get(&path, Some(&admin)).await.expect(200).clone();
    assert_eq!(stats["total"], 4);
    assert_eq!(stats["by_status"]["closed"], 2);
    assert_eq!(stats["by_status"]["assigned"], 1);
    assert_eq!(stats["by_status"]["withdrawn"], 1);
    assert_eq!(stats["by_status"]["merged"], 0);
    assert_eq!(
        (
            stats["by_kind"]["complaint"].as_i64(),
            stats["by_kind"]["dispute"].as_i64()
        ),
        (Some(4), Some(0))
    );
    assert_eq!(stats["by_category"][0]["code"], "noise");
    assert_eq!(stats["by_category"][0]["count"], 2);
    assert_eq!(stats["resolved"], 2);
    assert_eq!(
        stats["resolved_by_level"],
        json!({"branch": 0, "building": 1, "committee": 0, "household": 1})
    );
    assert!(close_to(&stats["resolved_within_building_rate"], 1.0));
    // Signed for after 2 h (A) and 6 h (B, at the building); resolved after 10 h and 20 h.
    assert!(
        close_to(&stats["accept_hours"]["median"], 4.0),
        "{}",
        stats["accept_hours"]
    );
    assert!(
        close_to(&stats["accept_hours"]["p90"], 5.6),
        "{}",
        stats["accept_hours"]
    );
    assert!(
        close_to(&stats["resolve_hours"]["median"], 15.0),
        "{}",
        stats["resolve_hours"]
    );
    assert!(
        close_to(&stats["resolve_hours"]["p90"], 19.0),
        "{}",
        stats["resolve_hours"]
    );
    assert!(close_to(&stats["average_rating"], 4.0));
    assert!(close_to(&stats["reopen_rate"], 0.25));
    assert!(close_to(&stats["breach_rate"], 0.0));

    // A building's subtree: the tickets that have been there (not the branch's parking one).
    let leader = app.token("jm.b1.bldg1").await;
    let building = app.unit_id(&admin, "JM-B1-01").await;
    let mine = app
        .get(&format!("/api/v1/stats?unit_id={building}&from={from}"), Some(&leader))
        .await
        .expect(200)
        .clone();
    assert_eq!(mine["total"], 3);
    let other = app.token("jm.branch2").await;
    app.get(&path, Some(&other)).await.expect_problem(404, "not_found");
    let resident = app.token("resident01").await;
    app.get(&path, Some(&resident)).await.expect_problem(404, "not_found");

    let csv = app
        .raw(Method::GET, &path, Some(&admin), &[("Accept", "text/csv")], None)
        .await;
    assert_eq!(csv.status.as_u16(), 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines[0], "metric,value");
    assert!(
        lines.contains(&"total,4") && lines.contains(&"resolved_at.household,1") && lines.contains(&"category.noise,2")
    );

    assert_eq!(app.get("/api/v1/stats", Some(&admin)).await.error_fields(), ["unit_id"]);
    let res = app
        .get(
            &format!("/api/v1/stats?unit_id={committee}&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"),
            Some(&admin),
        )
        .await;
    assert_eq!(res.error_fields(), ["from"]);
    // Before any of it: nothing counted, rates null.
    let empty = app
        .get(
            &format!("/api/v1/stats?unit_id={committee}&from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z"),
            Some(&admin),
        )
        .await;
    let empty = empty.expect(200).clone();
    assert_eq!(empty["total"], 0);
    assert!(empty["breach_rate"].is_null() && empty["accept_hours"]["median"].is_null());
}
