//! Statistics read a derived table (`ticket_reach`) that database triggers
//! keep. These tests move tickets through the real API, the deadline worker,
//! the bulk generator and the migrations' backfills, and check that `/stats`
//! and `/stats/units` still say what the tickets, their visits and their
//! breaches say: a recount from `tickets`, `ticket_visits`,
//! `ticket_breaches` and `units` done here in Rust.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, SecondsFormat, Utc};
use diesel::migration::MigrationSource;
use diesel::{QueryDsl, RunQueryDsl};
use diesel_migrations::MigrationHarness;
use griddesk::db::schema::{categories, ticket_breaches, ticket_visits, tickets, units};
use griddesk::db::{AnyConnection, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::tickets::file;

type TicketRow = (
    i64,
    NaiveDateTime,
    String,
    String,
    i64,
    Option<i64>,
    (Option<NaiveDateTime>, Option<NaiveDateTime>),
    (NaiveDateTime, NaiveDateTime),
    (Option<NaiveDateTime>, Option<NaiveDateTime>),
    i32,
    Option<i32>,
);

/// What the base tables hold.
struct World {
    /// id → (level, path, parent_id)
    units: BTreeMap<i64, (String, String, Option<i64>)>,
    /// category id → code
    categories: BTreeMap<i64, String>,
    tickets: Vec<TicketRow>,
    visits: Vec<(i64, i64)>,
    /// (ticket, unit that missed a deadline, deadline, when), in id order.
    breaches: Vec<(i64, i64, String, NaiveDateTime)>,
}

async fn world(app: &TestApp) -> World {
    let db = app.db.clone();
    actix_web::web::block(move || {
        let mut conn = db.conn().unwrap();
        let conn: &mut AnyConnection = &mut conn;
        let units = units::table
            .select((units::id, units::level, units::path, units::parent_id))
            .load::<(i64, String, String, Option<i64>)>(conn)
            .unwrap()
            .into_iter()
            .map(|(id, level, path, parent)| (id, (level, path, parent)))
            .collect();
        let categories = categories::table
            .select((categories::id, categories::code))
            .load::<(i64, String)>(conn)
            .unwrap()
            .into_iter()
            .collect();
        let tickets = tickets::table
            .select((
                tickets::id,
                tickets::created_at,
                tickets::status,
                tickets::kind,
                tickets::category_id,
                tickets::resolved_unit_id,
                (tickets::accepted_at, tickets::resolved_at),
                (tickets::accept_due_at, tickets::resolve_due_at),
                (tickets::accept_breached_at, tickets::resolve_breached_at),
                tickets::reopen_count,
                tickets::rating,
            ))
            .load::<TicketRow>(conn)
            .unwrap();
        let visits = ticket_visits::table
            .select((ticket_visits::ticket_id, ticket_visits::unit_id))
            .load::<(i64, i64)>(conn)
            .unwrap();
        let breaches = ticket_breaches::table
            .order(ticket_breaches::id)
            .select((
                ticket_breaches::ticket_id,
                ticket_breaches::unit_id,
                ticket_breaches::deadline,
                ticket_breaches::at,
            ))
            .load::<(i64, i64, String, NaiveDateTime)>(conn)
            .unwrap();
        World {
            units,
            categories,
            tickets,
            visits,
            breaches,
        }
    })
    .await
    .unwrap()
}

fn hours(from: NaiveDateTime, to: Option<NaiveDateTime>) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    to.map(|to| (to - from).num_microseconds().unwrap() as f64 / 3_600_000_000.0)
}

/// PostgreSQL's `percentile_cont`.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let exact = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (exact.floor(), exact.ceil());
    let low = sorted[lo as usize];
    Some(low + (sorted[hi as usize] - low) * (exact - lo))
}

fn share(part: i64, whole: i64) -> Value {
    #[allow(clippy::cast_precision_loss)]
    if whole > 0 {
        json!(part as f64 / whole as f64)
    } else {
        Value::Null
    }
}

/// The statistics of `unit`'s subtree over tickets filed in `[from, to)`,
/// recounted from the base tables, in the shape `/stats` answers.
fn recount(w: &World, unit: i64, from: NaiveDateTime, to: NaiveDateTime) -> Value {
    let root = &w.units[&unit].1;
    let inside = |u: &i64| w.units[u].1.starts_with(root.as_str());
    let reached: std::collections::BTreeSet<i64> =
        w.visits.iter().filter(|(_, u)| inside(u)).map(|(t, _)| *t).collect();
    // Tickets that missed a deadline while held inside the subtree.
    let missed: std::collections::BTreeSet<i64> = w
        .breaches
        .iter()
        .filter(|(_, u, _, _)| inside(u))
        .map(|(t, ..)| *t)
        .collect();
    let mut by_status: BTreeMap<String, i64> = [
        "assigned",
        "accepted",
        "resolved",
        "closed",
        "withdrawn",
        "rejected",
        "referred",
        "merged",
    ]
    .iter()
    .map(|s| ((*s).to_owned(), 0))
    .collect();
    let mut by_kind: BTreeMap<String, i64> = [("complaint".to_owned(), 0), ("dispute".to_owned(), 0)].into();
    let mut by_level: BTreeMap<String, i64> = ["committee", "branch", "building", "household"]
        .iter()
        .map(|l| ((*l).to_owned(), 0))
        .collect();
    let mut by_category: BTreeMap<String, i64> = BTreeMap::new();
    let (mut total, mut breached, mut reopened, mut rated, mut rating_sum) = (0, 0, 0, 0, 0);
    let (mut accept, mut resolve) = (Vec::new(), Vec::new());
    for t in w
        .tickets
        .iter()
        .filter(|t| reached.contains(&t.0) && t.1 >= from && t.1 < to)
    {
        let (id, created, status, kind, category, resolved_unit, (accepted_at, resolved_at), _, _, reopens, rating) = t;
        total += 1;
        *by_status.get_mut(status).unwrap() += 1;
        *by_kind.get_mut(kind).unwrap() += 1;
        *by_category.entry(w.categories[category].clone()).or_default() += 1;
        if let Some(r) = resolved_unit
            && (status == "resolved" || status == "closed")
        {
            *by_level.get_mut(&w.units[r].0).unwrap() += 1;
        }
        breached += i64::from(missed.contains(id));
        reopened += i64::from(*reopens > 0);
        if let Some(r) = rating {
            rated += 1;
            rating_sum += i64::from(*r);
        }
        accept.extend(hours(*created, *accepted_at));
        resolve.extend(hours(*created, *resolved_at));
    }
    accept.sort_by(f64::total_cmp);
    resolve.sort_by(f64::total_cmp);
    let resolved: i64 = by_level.values().sum();
    #[allow(clippy::cast_precision_loss)]
    let average = if rated > 0 {
        json!(rating_sum as f64 / rated as f64)
    } else {
        Value::Null
    };
    json!({
        "total": total,
        "by_status": by_status,
        "by_kind": by_kind,
        "by_category": by_category,
        "resolved": resolved,
        "resolved_by_level": by_level,
        "resolved_within_building_rate": share(by_level["household"] + by_level["building"], resolved),
        "accept_hours": {"median": percentile(&accept, 0.5), "p90": percentile(&accept, 0.9)},
        "resolve_hours": {"median": percentile(&resolve, 0.5), "p90": percentile(&resolve, 0.9)},
        "breach_rate": share(breached, total),
        "average_rating": average,
        "reopen_rate": share(reopened, total),
    })
}

/// Equal, with hours allowed to differ in the last bits (the database
/// computes them from its own timestamp arithmetic).
fn assert_same(what: &str, key: &str, got: &Value, want: &Value) {
    let same = match (got, want) {
        (Value::Number(a), Value::Number(b)) => (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-6,
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter().all(|(k, v)| {
                    b.get(k).is_some_and(|w| {
                        assert_same(what, &format!("{key}.{k}"), v, w);
                        true
                    })
                })
        }
        _ => got == want,
    };
    assert!(same, "{what} {key}: got {got}, recounted {want}");
}

const METRICS: [&str; 11] = [
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
];

fn rfc3339(t: NaiveDateTime) -> String {
    DateTime::<Utc>::from_naive_utc_and_offset(t, Utc).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `/stats` for every unit and `/stats/units` for every unit with children
/// answer what the recount says, over `[from, to)`; returns how many
/// tickets the committees counted (so a caller can tell the check saw some).
async fn check_against_recount(app: &TestApp, from: NaiveDateTime, to: NaiveDateTime) -> i64 {
    let w = world(app).await;
    let admin = app.token("jm.admin").await;
    let period = format!("from={}&to={}", rfc3339(from), rfc3339(to));
    let mut counted = 0;
    for (id, (level, _, _)) in &w.units {
        let want = recount(&w, *id, from, to);
        let got = app
            .get(&format!("/api/v1/stats?unit_id={id}&{period}"), Some(&admin))
            .await
            .expect(200)
            .clone();
        for key in METRICS {
            assert_same(&format!("/stats unit {id}"), key, &got[key], &want[key]);
        }
        let categories: BTreeMap<String, i64> = got["by_category"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["code"].as_str().unwrap().to_owned(), c["count"].as_i64().unwrap()))
            .collect();
        assert_eq!(json!(categories), want["by_category"], "/stats unit {id} by_category");
        if level == "committee" {
            counted += want["total"].as_i64().unwrap();
        }
        if level == "household" {
            continue;
        }
        let table = app
            .get(&format!("/api/v1/stats/units?parent_id={id}&{period}"), Some(&admin))
            .await
            .expect(200)
            .clone();
        let children: Vec<i64> = w
            .units
            .iter()
            .filter(|(_, u)| u.2 == Some(*id))
            .map(|(child, _)| *child)
            .collect();
        let rows = table["items"].as_array().unwrap();
        assert_eq!(rows.len(), children.len(), "/stats/units parent {id}");
        for row in rows {
            let child = row["unit_id"].as_i64().unwrap();
            assert!(children.contains(&child));
            let want = recount(&w, child, from, to);
            for key in METRICS {
                assert_same(
                    &format!("/stats/units parent {id} row {child}"),
                    key,
                    &row[key],
                    &want[key],
                );
            }
        }
    }
    counted
}

fn ever() -> (NaiveDateTime, NaiveDateTime) {
    let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
    (at("2000-01-01 00:00:00"), at("2100-01-01 00:00:00"))
}

async fn worker_pass(app: &TestApp) {
    let db = app.db.clone();
    let now = app.clock.now_naive();
    actix_web::web::block(move || griddesk::worker::run_once(&db, now))
        .await
        .unwrap()
        .unwrap();
}

/// Rebuilds the derived table and the breach record from the base tables
/// and the timeline, as the migrations do on an existing database: the
/// breach record first (its trigger keeps the derived table's flags).
async fn rebuild(app: &TestApp) {
    let db = app.db.clone();
    actix_web::web::block(move || {
        let mut conn = db.maintenance_connection().unwrap();
        let rebuilt = ["breach_record", "ticket_reach"];
        match &mut conn {
            AnyConnection::Sqlite(c) => {
                let all = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS).unwrap();
                for name in rebuilt {
                    let m = all.iter().find(|m| m.name().to_string().ends_with(name)).unwrap();
                    c.revert_migration(&**m).unwrap();
                }
            }
            AnyConnection::Postgres(c) => {
                let all = MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS).unwrap();
                for name in rebuilt {
                    let m = all.iter().find(|m| m.name().to_string().ends_with(name)).unwrap();
                    c.revert_migration(&**m).unwrap();
                }
            }
        }
        griddesk::db::run_migrations(&mut conn).unwrap();
    })
    .await
    .unwrap();
}

/// Which tickets are on which units' records, in a stable order. The
/// backfill reads the timeline, which does not say whether the resolve
/// deadline had run out too when the worker escalated a ticket (the worker
/// records both): the units' records agree, not every row.
fn on_record(breaches: &[(i64, i64, String, NaiveDateTime)]) -> std::collections::BTreeSet<(i64, i64)> {
    breaches.iter().map(|(t, u, ..)| (*t, *u)).collect()
}

#[actix_web::test]
async fn statistics_follow_tickets_through_their_whole_life() {
    let app = TestApp::spawn().await;
    // The demo with its sample tickets: every status, overdue ones, a dispute.
    let db = app.db.clone();
    let now = app.clock.now_naive();
    actix_web::web::block(move || griddesk::demo::load(&db, now, true))
        .await
        .unwrap()
        .unwrap();
    // Tokens are taken fresh for each call: the clock moves by days.
    let admin = app.token("jm.admin").await;
    let act = |who: &'static str, id: i64, action: &'static str, body: Value| {
        let app = &app;
        async move {
            let token = app.token(who).await;
            app.post(&format!("/api/v1/tickets/{id}/{action}"), Some(&token), body)
                .await
                .expect(200);
        }
    };
    let unit = |code: &'static str| {
        let (app, admin) = (&app, &admin);
        async move { app.unit_id(admin, code).await }
    };
    let (committee, branch1, branch2) = (unit("JM").await, unit("JM-B1").await, unit("JM-B2").await);
    let (building, other_building) = (unit("JM-B1-01").await, unit("JM-B2-01").await);

    // X climbs from a household to the committee, is sent down to another
    // branch, resolved there, reopened, resolved again and rated.
    app.clock.advance(Duration::days(1));
    let x_filed = app.clock.now_naive();
    let x = file(&app, &app.token("resident01").await, "noise", "X").await["id"]
        .as_i64()
        .unwrap();
    app.clock.advance(Duration::hours(1));
    act("jm.b1.bldg1.h1", x, "accept", json!({})).await;
    act("jm.b1.bldg1.h1", x, "escalate", json!({"reason": "需楼栋协调"})).await;
    act("jm.b1.bldg1", x, "accept", json!({})).await;
    act("jm.b1.bldg1", x, "escalate", json!({"reason": "需支部协调"})).await;
    act("jm.branch1", x, "accept", json!({})).await;
    act("jm.branch1", x, "escalate", json!({"reason": "需社区协调"})).await;
    act("jm.committee", x, "dispatch", json!({"unit_id": branch2})).await;
    app.clock.advance(Duration::hours(2));
    act("jm.branch2", x, "accept", json!({})).await;
    app.clock.advance(Duration::hours(3));
    act("jm.branch2", x, "resolve", json!({"note": "好了"})).await;
    act("resident01", x, "reopen", json!({"reason": "没好"})).await;
    app.clock.advance(Duration::hours(4));
    let reopened = app
        .get(&format!("/api/v1/tickets/{x}"), Some(&app.token("jm.admin").await))
        .await
        .expect(200)
        .clone();
    if reopened["status"] == "assigned" {
        act("jm.branch2", x, "accept", json!({})).await;
    }
    act("jm.branch2", x, "resolve", json!({"note": "这次好了"})).await;
    act("resident01", x, "close", json!({"rating": 2})).await;

    // Only X was filed in its own second: hand-counted.
    let x_period = format!(
        "from={}&to={}",
        rfc3339(x_filed - Duration::seconds(1)),
        rfc3339(x_filed + Duration::seconds(1))
    );
    let table = app
        .get(
            &format!("/api/v1/stats/units?parent_id={committee}&{x_period}"),
            Some(&app.token("jm.admin").await),
        )
        .await
        .expect(200)
        .clone();
    let totals: Vec<(i64, i64)> = table["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["unit_id"].as_i64().unwrap(), r["total"].as_i64().unwrap()))
        .collect();
    assert_eq!(totals.len(), 3);
    for (id, total) in totals {
        assert_eq!(total, i64::from(id == branch1 || id == branch2), "branch {id}");
    }
    for r in table["items"].as_array().unwrap().iter().filter(|r| r["total"] == 1) {
        assert_eq!(r["by_status"]["closed"], 1);
        assert_eq!(
            r["resolved_by_level"],
            json!({"branch": 1, "building": 0, "committee": 0, "household": 0})
        );
        assert_eq!(r["resolved_within_building_rate"], 0.0);
        assert_eq!(r["reopen_rate"], 1.0);
        assert_eq!(r["average_rating"], 2.0);
        // Resolved the second time 10 hours after filing.
        assert!((r["resolve_hours"]["median"].as_f64().unwrap() - 10.0).abs() < 0.01);
    }
    for (id, want) in [(building, 1), (other_building, 0), (committee, 1)] {
        let stats = app
            .get(
                &format!("/api/v1/stats?unit_id={id}&{x_period}"),
                Some(&app.token("jm.admin").await),
            )
            .await
            .expect(200)
            .clone();
        assert_eq!(stats["total"], want, "unit {id}");
    }

    // W is never signed for: the worker climbs it to the committee, then
    // flags the missed deadline.
    app.clock.advance(Duration::days(1));
    let w_filed = app.clock.now_naive();
    let w = file(&app, &app.token("resident02").await, "noise", "W").await["id"]
        .as_i64()
        .unwrap();
    let w_period = format!(
        "from={}&to={}",
        rfc3339(w_filed - Duration::seconds(1)),
        rfc3339(w_filed + Duration::seconds(1))
    );
    let breach = |id: i64| {
        let (app, w_period) = (&app, &w_period);
        async move {
            let stats = app
                .get(
                    &format!("/api/v1/stats?unit_id={id}&{w_period}"),
                    Some(&app.token("jm.admin").await),
                )
                .await
                .expect(200)
                .clone();
            (stats["total"].as_i64().unwrap(), stats["breach_rate"].as_f64())
        }
    };
    assert_eq!(breach(building).await, (1, Some(0.0)));
    for _ in 0..4 {
        app.clock.advance(Duration::hours(25));
        worker_pass(&app).await;
    }
    let t = app
        .get(&format!("/api/v1/tickets/{w}"), Some(&app.token("jm.admin").await))
        .await
        .expect(200)
        .clone();
    assert_eq!(t["current_unit"]["level"], "committee");
    assert_eq!(breach(committee).await, (1, Some(1.0)));
    assert_eq!(breach(branch1).await, (1, Some(1.0)));
    assert_eq!(breach(branch2).await, (0, None));

    // Refused and withdrawn tickets count under their status.
    let r = file(&app, &app.token("resident04").await, "parking", "R").await["id"]
        .as_i64()
        .unwrap();
    act("jm.branch1", r, "reject", json!({"reason": "重复"})).await;
    let v = file(&app, &app.token("resident13").await, "elder_care", "V").await["id"]
        .as_i64()
        .unwrap();
    act("resident13", v, "withdraw", json!({"reason": "已解决"})).await;

    let (from, to) = ever();
    assert!(check_against_recount(&app, from, to).await >= 18);
    // And a period that cuts through the demo's tickets.
    check_against_recount(&app, x_filed - Duration::days(3), w_filed).await;

    // The migration's backfill finds the same breaches in the timeline
    // (the worker's) and in the tickets (late sign-fors and resolutions).
    let before = on_record(&world(&app).await.breaches);
    // W missed its deadline at each of its four units.
    assert_eq!(before.iter().filter(|b| b.0 == w).count(), 4, "{before:?}");
    rebuild(&app).await;
    assert_eq!(on_record(&world(&app).await.breaches), before);
    assert!(check_against_recount(&app, from, to).await >= 18);
}

#[actix_web::test]
async fn generated_tickets_and_the_backfill_count_the_same() {
    let app = TestApp::with_demo().await;
    let first_generated = world(&app).await.tickets.iter().map(|t| t.0).max().unwrap_or(0) + 1;
    let db = app.db.clone();
    let now = app.clock.now_naive();
    let added = actix_web::web::block(move || griddesk::generate::fill(&db, 600, now, 7))
        .await
        .unwrap()
        .unwrap();
    assert!(added >= 500);
    let (from, to) = ever();
    assert_eq!(check_against_recount(&app, from, to).await, 600);
    check_against_recount(&app, now - Duration::days(120), now - Duration::days(30)).await;

    let before = world(&app).await.breaches;
    rebuild(&app).await;
    let after = world(&app).await.breaches;
    assert_eq!(on_record(&after), on_record(&before));
    // The generated tickets' late sign-fors and resolutions, row for row.
    let generated = |b: &[(i64, i64, String, NaiveDateTime)]| {
        let mut b: Vec<_> = b.iter().filter(|r| r.0 >= first_generated).cloned().collect();
        b.sort();
        b
    };
    assert!(generated(&before).len() > 50, "{}", generated(&before).len());
    assert_eq!(generated(&after), generated(&before));
    assert_eq!(check_against_recount(&app, from, to).await, 600);
    check_against_recount(&app, now - Duration::days(120), now - Duration::days(30)).await;
}
