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
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    // UTF-8 with a byte-order mark, CRLF line ends.
    let text = csv.text.strip_prefix('\u{feff}').expect("a byte-order mark first");
    let lines: Vec<&str> = text.strip_suffix("\r\n").unwrap().split("\r\n").collect();
    assert!(lines.iter().all(|l| !l.contains('\n')), "{text:?}");
    assert_eq!(lines[0], "metric,value");
    assert_eq!(lines[1], format!("unit_id,{committee}"));
    assert!(
        lines.contains(&"total,4") && lines.contains(&"resolved_at.household,1") && lines.contains(&"category.noise,2")
    );
    // The period in the deployment's zone (Asia/Shanghai by default), with its offset.
    let local = |t: &Value| {
        chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    assert_eq!(lines[2], format!("from,{}", local(&stats["from"])));
    assert!(lines[2].ends_with("+08:00"), "{}", lines[2]);
    // `to` is now, a little later than the JSON's.
    let to = chrono::DateTime::parse_from_rfc3339(lines[3].strip_prefix("to,").unwrap()).unwrap();
    let json_to = chrono::DateTime::parse_from_rfc3339(stats["to"].as_str().unwrap()).unwrap();
    assert!(to >= json_to && to - json_to < Duration::minutes(1), "{}", lines[3]);
    assert!(lines[3].ends_with("+08:00"), "{}", lines[3]);

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

/// One league-table row by its unit code.
fn row<'a>(table: &'a Value, code: &str) -> &'a Value {
    table["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .unwrap_or_else(|| panic!("no row for {code}: {table}"))
}

#[actix_web::test]
async fn a_league_table_compares_the_child_units() {
    let app = TestApp::with_demo().await;
    let start = app.clock.now() - Duration::minutes(1);
    let admin = app.token("jm.admin").await;
    // Branch 1: A and B at households, C at the branch (reopened later).
    let a = file(&app, &app.token("resident01").await, "noise", "A").await["id"]
        .as_i64()
        .unwrap();
    let b = file(&app, &app.token("resident02").await, "noise", "B").await["id"]
        .as_i64()
        .unwrap();
    let c = file(&app, &app.token("resident04").await, "parking", "C").await["id"]
        .as_i64()
        .unwrap();
    // Branch 2: E escalated from a household to its building, F waiting at a building.
    let e = file(&app, &app.token("resident07").await, "noise", "E").await["id"]
        .as_i64()
        .unwrap();
    file(&app, &app.token("resident08").await, "leak", "F").await;
    // G enters at the committee (not inside any branch), then goes down to branch 3.
    let g = file(&app, &app.token("resident13").await, "elder_care", "G").await["id"]
        .as_i64()
        .unwrap();

    let act = |who: &'static str, id: i64, action: &'static str, body: Value| {
        let app = &app;
        async move {
            let token = app.token(who).await;
            app.post(&format!("/api/v1/tickets/{id}/{action}"), Some(&token), body)
                .await
                .expect(200);
        }
    };
    let branch3 = app.unit_id(&admin, "JM-B3").await;
    act("jm.committee", g, "dispatch", json!({"unit_id": branch3})).await;
    app.clock.advance(Duration::hours(2));
    act("jm.b1.bldg1.h1", a, "accept", json!({})).await;
    app.clock.advance(Duration::hours(1));
    act("jm.b2.bldg1.h1", e, "accept", json!({})).await;
    act("jm.b2.bldg1.h1", e, "escalate", json!({"reason": "需楼栋协调"})).await;
    app.clock.advance(Duration::hours(1));
    act("jm.b1.bldg1.h2", b, "accept", json!({})).await;
    act("jm.branch1", c, "accept", json!({})).await;
    act("jm.b2.bldg1", e, "accept", json!({})).await;
    app.clock.advance(Duration::hours(2));
    act("jm.b1.bldg1.h1", a, "resolve", json!({"note": "好了"})).await;
    app.clock.advance(Duration::hours(4));
    act("jm.branch1", c, "resolve", json!({"note": "好了"})).await;
    act("resident04", c, "reopen", json!({"reason": "没好"})).await;
    app.clock.advance(Duration::hours(2));
    act("jm.b1.bldg1.h2", b, "resolve", json!({"note": "好了"})).await;
    act("jm.b2.bldg1", e, "resolve", json!({"note": "好了"})).await;
    act("resident01", a, "close", json!({"rating": 4})).await;
    act("resident07", e, "close", json!({"rating": 2})).await;

    let admin = app.token("jm.admin").await;
    let committee = app.unit_id(&admin, "JM").await;
    let from = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let path = format!("/api/v1/stats/units?parent_id={committee}&from={from}");
    let table = app.get(&path, Some(&admin)).await.expect(200).clone();
    assert_eq!(table["parent_id"], committee);
    let codes: Vec<&str> = table["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["JM-B1", "JM-B2", "JM-B3"]);

    let b1 = row(&table, "JM-B1");
    assert_eq!(
        (b1["name"].as_str(), b1["level"].as_str()),
        (Some("军门小区党支部"), Some("branch"))
    );
    assert_eq!(b1["total"], 3);
    assert_eq!(
        (
            &b1["by_status"]["closed"],
            &b1["by_status"]["resolved"],
            &b1["by_status"]["assigned"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    assert_eq!(b1["by_kind"], json!({"complaint": 3, "dispute": 0}));
    assert_eq!(b1["resolved"], 2);
    assert_eq!(
        b1["resolved_by_level"],
        json!({"branch": 0, "building": 0, "committee": 0, "household": 2})
    );
    assert!(close_to(&b1["resolved_within_building_rate"], 1.0));
    // Signed for after 2 h and 4 h (C's sign-for ended with its reopening); resolved after 6 h and 12 h.
    assert!(close_to(&b1["accept_hours"]["median"], 3.0), "{}", b1["accept_hours"]);
    assert!(close_to(&b1["accept_hours"]["p90"], 3.8), "{}", b1["accept_hours"]);
    assert!(close_to(&b1["resolve_hours"]["median"], 9.0), "{}", b1["resolve_hours"]);
    assert!(close_to(&b1["resolve_hours"]["p90"], 11.4), "{}", b1["resolve_hours"]);
    assert!(close_to(&b1["reopen_rate"], 1.0 / 3.0));
    assert!(close_to(&b1["average_rating"], 4.0));
    assert!(close_to(&b1["breach_rate"], 0.0));

    let b2 = row(&table, "JM-B2");
    assert_eq!(b2["total"], 2);
    assert_eq!(
        (&b2["by_status"]["closed"], &b2["by_status"]["assigned"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(b2["resolved_by_level"]["building"], 1);
    assert!(close_to(&b2["resolved_within_building_rate"], 1.0));
    // The last sign-for, at the building, 4 h after filing.
    assert!(close_to(&b2["accept_hours"]["median"], 4.0) && close_to(&b2["accept_hours"]["p90"], 4.0));
    assert!(close_to(&b2["resolve_hours"]["median"], 12.0));
    assert!(close_to(&b2["average_rating"], 2.0) && close_to(&b2["reopen_rate"], 0.0));

    // G only counts for the branch it was sent down to.
    let b3 = row(&table, "JM-B3");
    assert_eq!(
        (b3["total"].as_i64(), b3["by_status"]["assigned"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(b3["resolved_within_building_rate"].is_null() && b3["accept_hours"]["median"].is_null());
    assert!(b3["average_rating"].is_null() && close_to(&b3["breach_rate"], 0.0));

    // Each row agrees with `/stats` for that unit.
    for code in ["JM-B1", "JM-B2", "JM-B3"] {
        let id = app.unit_id(&admin, code).await;
        let single = app
            .get(&format!("/api/v1/stats?unit_id={id}&from={from}"), Some(&admin))
            .await
            .expect(200)
            .clone();
        let r = row(&table, code);
        for key in [
            "total",
            "by_status",
            "by_kind",
            "resolved",
            "resolved_by_level",
            "resolved_within_building_rate",
            "accept_hours",
            "resolve_hours",
            "breach_rate",
            "average_rating",
            "reopen_rate",
        ] {
            assert_eq!(r[key], single[key], "{code} {key}");
        }
    }

    // A branch's buildings: staff of the branch may look; a building without tickets has zeros.
    let secretary = app.token("jm.branch1").await;
    let branch1 = app.unit_id(&admin, "JM-B1").await;
    let buildings = app
        .get(
            &format!("/api/v1/stats/units?parent_id={branch1}&from={from}"),
            Some(&secretary),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(buildings["items"].as_array().unwrap().len(), 2);
    assert_eq!(row(&buildings, "JM-B1-01")["total"], 2);
    let empty = row(&buildings, "JM-B1-02");
    assert_eq!(empty["total"], 0);
    assert_eq!(empty["by_status"]["assigned"], 0);
    assert!(empty["breach_rate"].is_null() && empty["resolve_hours"]["p90"].is_null());

    // CSV: a header, then one line per child in the same order; names quoted when needed.
    app.patch(
        &format!("/api/v1/units/{branch3}"),
        Some(&admin),
        json!({"name": "湖东,\"三\"支部"}),
    )
    .await
    .expect(200);
    let csv = app
        .raw(Method::GET, &path, Some(&admin), &[("Accept", "text/csv")], None)
        .await;
    assert_eq!(csv.status.as_u16(), 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv.text.ends_with("\r\n"));
    let lines: Vec<&str> = csv.text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "\u{feff}unit_id,code,name,level,total,status.accepted,status.assigned,status.closed,status.merged,\
         status.referred,status.rejected,status.resolved,status.withdrawn,kind.complaint,kind.dispute,\
         resolved,resolved_at.branch,resolved_at.building,resolved_at.committee,resolved_at.household,\
         resolved_within_building_rate,accept_hours.median,accept_hours.p90,resolve_hours.median,\
         resolve_hours.p90,breach_rate,average_rating,reopen_rate"
    );
    assert_eq!(lines.len(), 4);
    // Hours come from the test clock plus the real milliseconds between
    // steps: a figure may round one thousandth up.
    let expected = format!(
        "{branch1},JM-B1,军门小区党支部,branch,3,0,1,1,0,0,0,1,0,3,0,2,0,0,0,2,1.000,3.000,3.800,9.000,11.400,0.000,4.000,0.333"
    );
    let cells: Vec<&str> = lines[1].split(',').collect();
    let wanted: Vec<&str> = expected.split(',').collect();
    assert_eq!(cells.len(), wanted.len(), "{}", lines[1]);
    for (cell, want) in cells.iter().zip(&wanted) {
        let close = want.contains('.')
            && matches!((cell.parse::<f64>(), want.parse::<f64>()), (Ok(a), Ok(b)) if (a - b).abs() <= 0.0015);
        assert!(cell == want || close, "{} is not {expected}", lines[1]);
    }
    assert_eq!(
        lines[3],
        format!("{branch3},JM-B3,\"湖东,\"\"三\"\"支部\",branch,1,0,1,0,0,0,0,0,0,1,0,0,0,0,0,0,,,,,,0.000,,0.000")
    );
    // A name a spreadsheet would run as a formula is neutralised (OWASP).
    let branch2 = app.unit_id(&admin, "JM-B2").await;
    for (name, cell) in [
        (
            "=HYPERLINK(\"http://evil.example\",\"点我\")",
            "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"点我\"\")\"",
        ),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+86 王", "'+86 王"),
        ("二号-支部", "二号-支部"),
    ] {
        app.patch(&format!("/api/v1/units/{branch2}"), Some(&admin), json!({"name": name}))
            .await
            .expect(200);
        let csv = app
            .raw(Method::GET, &path, Some(&admin), &[("Accept", "text/csv")], None)
            .await;
        let line = csv
            .text
            .split("\r\n")
            .find(|l| l.starts_with(&format!("{branch2},")))
            .unwrap();
        assert!(
            line.starts_with(&format!("{branch2},JM-B2,{cell},branch,")),
            "{name}: {line}"
        );
    }

    // Who may look, and what is refused.
    app.get(&path, Some(&secretary)).await.expect_problem(404, "not_found");
    let resident = app.token("resident01").await;
    app.get(&path, Some(&resident)).await.expect_problem(404, "not_found");
    app.get(&path, None).await.expect(401);
    app.get("/api/v1/stats/units?parent_id=999999", Some(&admin))
        .await
        .expect_problem(404, "not_found");
    assert_eq!(
        app.get("/api/v1/stats/units", Some(&admin)).await.error_fields(),
        ["parent_id"]
    );
    let backwards = app
        .get(
            &format!("/api/v1/stats/units?parent_id={committee}&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"),
            Some(&admin),
        )
        .await;
    assert_eq!(backwards.error_fields(), ["from"]);
    let household = app.unit_id(&admin, "JM-B1-01-H1").await;
    let res = app
        .get(&format!("/api/v1/stats/units?parent_id={household}"), Some(&admin))
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["parent_id"]);
}
