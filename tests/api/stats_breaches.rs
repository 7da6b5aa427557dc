//! A missed deadline stays on the record of the unit that missed it: the
//! `breach_rate` of a subtree is the share of the tickets that reached it
//! which missed a deadline (to sign for or to resolve) while held inside it.
//! The miss counts there and above, whatever happens to the ticket next.

use chrono::{Duration, SecondsFormat};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::tickets::file;

async fn worker_pass(app: &TestApp) {
    let db = app.db.clone();
    let now = app.clock.now_naive();
    actix_web::web::block(move || griddesk::worker::run_once(&db, now))
        .await
        .unwrap()
        .unwrap();
}

#[actix_web::test]
async fn a_breach_counts_against_the_unit_that_missed_it_and_its_ancestors_only() {
    let app = TestApp::with_demo().await;
    // The demo's own tickets were filed before this period.
    app.clock.advance(Duration::hours(1));
    let from = app.clock.now() - Duration::seconds(1);
    let act = |who: &'static str, id: i64, action: &'static str, body: Value| {
        let app = &app;
        async move {
            let token = app.token(who).await;
            app.post(&format!("/api/v1/tickets/{id}/{action}"), Some(&token), body)
                .await
                .expect(200)
                .clone()
        }
    };
    let id = |t: Value| t["id"].as_i64().unwrap();

    // T1 (noise, 24 h to sign for at each unit) reaches household 1 of
    // building JM-B1-01, which signs for it in time and escalates it; the
    // building never signs for it, and the worker escalates it to the branch.
    let t1 = id(file(&app, &app.token("resident01").await, "noise", "T1").await);
    // T2 (leak, from building JM-B1-02) is signed for by hand, 2 hours late.
    let t2 = id(file(&app, &app.token("resident04").await, "leak", "T2").await);
    // T4 (leak, at building JM-B2-01) is handled in time.
    let t4 = id(file(&app, &app.token("resident07").await, "leak", "T4").await);
    app.clock.advance(Duration::hours(1));
    act("jm.b1.bldg1.h1", t1, "accept", json!({})).await;
    act("jm.b1.bldg1.h1", t1, "escalate", json!({"reason": "需楼栋协调"})).await;
    act("jm.b2.bldg1", t4, "accept", json!({})).await;
    app.clock.advance(Duration::hours(1));
    act("jm.b2.bldg1", t4, "resolve", json!({"note": "已修好"})).await;
    app.clock.advance(Duration::hours(24));
    act("jm.b1.bldg2", t2, "accept", json!({})).await;
    act("jm.b1.bldg2", t2, "resolve", json!({"note": "已修好"})).await;
    worker_pass(&app).await;
    let admin = app.token("jm.admin").await;
    let branch1 = app.unit_id(&admin, "JM-B1").await;
    let branch2 = app.unit_id(&admin, "JM-B2").await;
    let ticket = app
        .get(&format!("/api/v1/tickets/{t1}"), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(ticket["current_unit"]["id"], branch1, "{ticket}");

    // At the branch T1 is signed for in time, sent up, dispatched to the
    // other branch, resolved there, reopened, resolved again and closed.
    act("jm.branch1", t1, "accept", json!({})).await;
    act("jm.branch1", t1, "escalate", json!({"reason": "需社区协调"})).await;
    act("jm.committee", t1, "dispatch", json!({"unit_id": branch2})).await;
    act("jm.branch2", t1, "accept", json!({})).await;
    act("jm.branch2", t1, "resolve", json!({"note": "好了"})).await;
    let reopened = act("resident01", t1, "reopen", json!({"reason": "没好"})).await;
    if reopened["status"] == "assigned" {
        act("jm.branch2", t1, "accept", json!({})).await;
    }
    act("jm.branch2", t1, "resolve", json!({"note": "这次好了"})).await;
    act("resident01", t1, "close", json!({"rating": 4})).await;

    // T3 (noise, at household 1 of building JM-B2-01) is signed for in
    // time and resolved an hour after its 72 hours.
    let t3 = id(file(&app, &app.token("resident07").await, "noise", "T3").await);
    act("jm.b2.bldg1.h1", t3, "accept", json!({})).await;
    app.clock.advance(Duration::hours(73));
    act("jm.b2.bldg1.h1", t3, "resolve", json!({"note": "已协调"})).await;
    // Later worker passes change nothing.
    app.clock.advance(Duration::days(8));
    worker_pass(&app).await;

    let period = format!("from={}", from.to_rfc3339_opts(SecondsFormat::Secs, true));
    let admin = app.token("jm.admin").await;
    // (unit, tickets that reached it, of which missed a deadline inside it)
    let expected = [
        // T1 at B1-01, T2 at B1-02, T3 at B2-01-H1.
        ("JM", 4, Some(0.75)),
        // T1 and T2 both missed inside branch 1.
        ("JM-B1", 2, Some(1.0)),
        // The building that let T1's deadline run out.
        ("JM-B1-01", 1, Some(1.0)),
        // The household T1 passed through in time before it.
        ("JM-B1-01-H1", 1, Some(0.0)),
        ("JM-B1-02", 1, Some(1.0)),
        // Branch 2 got T1 by dispatch after the miss: only T3 is its own.
        ("JM-B2", 3, Some(1.0 / 3.0)),
        ("JM-B2-01", 2, Some(0.5)),
        ("JM-B2-01-H1", 1, Some(1.0)),
        // Units no ticket reached.
        ("JM-B2-02", 0, None),
        ("JM-B3", 0, None),
    ];
    for (code, total, rate) in expected {
        let unit = app.unit_id(&admin, code).await;
        let stats = app
            .get(&format!("/api/v1/stats?unit_id={unit}&{period}"), Some(&admin))
            .await
            .expect(200)
            .clone();
        assert_eq!(stats["total"], total, "{code}");
        assert_eq!(stats["breach_rate"].as_f64(), rate, "{code}");
    }
    // The league table of a branch's buildings says the same.
    let table = app
        .get(
            &format!("/api/v1/stats/units?parent_id={branch1}&{period}"),
            Some(&admin),
        )
        .await
        .expect(200)
        .clone();
    let rows: Vec<(i64, i64, Option<f64>)> = table["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["unit_id"].as_i64().unwrap(),
                r["total"].as_i64().unwrap(),
                r["breach_rate"].as_f64(),
            )
        })
        .collect();
    let b1 = app.unit_id(&admin, "JM-B1-01").await;
    let b2 = app.unit_id(&admin, "JM-B1-02").await;
    assert!(rows.contains(&(b1, 1, Some(1.0))), "{rows:?}");
    assert!(rows.contains(&(b2, 1, Some(1.0))), "{rows:?}");

    // The timeline still tells the story the record keeps.
    let events = app
        .get(&format!("/api/v1/tickets/{t1}/events"), Some(&admin))
        .await
        .expect(200)
        .clone();
    let auto = events["items"]
        .as_array()
        .or(events.as_array())
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "auto_escalate")
        .count();
    assert_eq!(auto, 1);
}
