//! Anonymity on every path (PRODUCT: anonymous tickets hide the reporter
//! from household and building levels; if two answers differ because of who
//! filed, that is a leak). One rule decides it,
//! `policy::tickets::sees_reporter` / `hidden_reporter`, and SQL asks it
//! through `reporter_sight`; these tests hold every path to it.

use std::collections::BTreeSet;

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::matrix::{CALLERS, USERNAMES};
use crate::support::TestApp;

/// resident01's display name in the demo.
const NAME: &str = "王芳";

fn ids(list: &Value) -> BTreeSet<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

async fn list(app: &TestApp, token: &str, query: &str) -> BTreeSet<i64> {
    ids(app
        .get(&format!("/api/v1/tickets?limit=100&{query}"), Some(token))
        .await
        .expect(200))
}

async fn file_anonymous(app: &TestApp, token: &str, on_behalf_of: Option<i64>) -> i64 {
    let mut body = json!({"category": "noise", "title": "匿名反映噪音", "description": "夜间噪音，不便透露姓名。",
        "anonymous": true});
    if let Some(resident) = on_behalf_of {
        body["on_behalf_of"] = json!(resident);
    }
    app.post("/api/v1/complaints", Some(token), body).await.expect(201)["id"]
        .as_i64()
        .unwrap()
}

async fn act(app: &TestApp, token: &str, id: i64, action: &str, body: Value) {
    app.post(&format!("/api/v1/tickets/{id}/{action}"), Some(token), body)
        .await
        .expect(200);
}

/// Whether a timeline or comment list shows `user` as an actor.
fn actors(events: &Value) -> BTreeSet<i64> {
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["actor"]["id"].as_i64())
        .collect()
}

#[actix_web::test]
async fn the_reporter_id_filter_answers_below_branch_level_as_if_nobody_had_filed_anonymously() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident01 = app.user_id(&admin, "resident01").await;
    let resident = app.token("resident01").await;
    let callers = [
        ("jm.b1.bldg1.h1", false),
        ("jm.b1.bldg1", false),
        ("jm.branch1", true),
        ("jm.committee", true),
        ("jm.admin", true),
        ("resident01", true),
    ];
    let mut before = Vec::new();
    for (name, _) in callers {
        let token = app.token(name).await;
        before.push(list(&app, &token, &format!("reporter_id={resident01}")).await);
    }
    let mine = file_anonymous(&app, &resident, None).await;
    let building = app.token("jm.b1.bldg1").await;
    let for_them = file_anonymous(&app, &building, Some(resident01)).await;
    let new: BTreeSet<i64> = [mine, for_them].into();

    for ((name, sees), before) in callers.into_iter().zip(before) {
        let token = app.token(name).await;
        let all = list(&app, &token, "").await;
        assert!(new.is_subset(&all), "{name} reads both new tickets");
        let after = list(&app, &token, &format!("reporter_id={resident01}")).await;
        if sees {
            assert_eq!(
                after,
                &before | &new,
                "{name} sees the reporter, so the filter finds them"
            );
        } else {
            assert_eq!(
                after, before,
                "{name} may not see the reporter: the filter must answer as before they filed"
            );
        }
        // The same with other filters alongside.
        let narrowed = list(
            &app,
            &token,
            &format!("reporter_id={resident01}&status=assigned&q=%E5%8C%BF%E5%90%8D"),
        )
        .await;
        assert_eq!(
            !narrowed.is_disjoint(&new),
            sees,
            "{name}: reporter_id with other filters"
        );
    }
}

#[actix_web::test]
async fn a_ticket_staff_filed_anonymously_for_a_resident_does_not_name_them_below_branch_level() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident01 = app.user_id(&admin, "resident01").await;
    let building = app.token("jm.b1.bldg1").await;
    let id = file_anonymous(&app, &building, Some(resident01)).await;
    for (name, sees) in [
        ("jm.b1.bldg1.h1", false),
        ("jm.b1.bldg1", false),
        ("jm.branch1", true),
        ("jm.committee", true),
        ("jm.admin", true),
    ] {
        let token = app.token(name).await;
        let events = app.get(&format!("/api/v1/tickets/{id}/events"), Some(&token)).await;
        let filed = &events.expect(200)["items"][0];
        assert_eq!(filed["kind"], "filed");
        if sees {
            assert!(filed["note"].as_str().unwrap().contains(NAME), "{name}: {filed}");
        } else {
            assert_eq!(filed["note"], "filed by staff for a resident", "{name}");
            assert!(!events.text.contains(NAME), "{name}: {}", events.text);
            let ticket = app.get(&format!("/api/v1/tickets/{id}"), Some(&token)).await;
            assert!(ticket.expect(200)["reporter"].is_null());
            assert!(!ticket.text.contains(NAME), "{name}: {}", ticket.text);
        }
    }
}

#[actix_web::test]
async fn the_reporters_own_comments_and_steps_do_not_name_them_below_branch_level() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident01 = app.user_id(&admin, "resident01").await;
    let resident = app.token("resident01").await;
    let worker = app.token("jm.b1.bldg1.h1").await;

    // Commented on, reopened, closed with feedback.
    let worked = file_anonymous(&app, &resident, None).await;
    let comment = app
        .post(
            &format!("/api/v1/tickets/{worked}/comments"),
            Some(&resident),
            json!({"body": "晚上十点以后最吵。"}),
        )
        .await;
    assert_eq!(
        comment.expect(201)["actor"]["id"],
        resident01,
        "the reporter sees themselves"
    );
    act(&app, &worker, worked, "accept", json!({})).await;
    act(&app, &worker, worked, "resolve", json!({"note": "已提醒。"})).await;
    act(&app, &resident, worked, "reopen", json!({"reason": "噪音依旧"})).await;
    act(&app, &worker, worked, "accept", json!({})).await;
    act(&app, &worker, worked, "resolve", json!({"note": "已再次提醒。"})).await;
    act(
        &app,
        &resident,
        worked,
        "close",
        json!({"rating": 4, "feedback": "好多了"}),
    )
    .await;
    // Withdrawn.
    let withdrawn = file_anonymous(&app, &resident, None).await;
    act(&app, &resident, withdrawn, "withdraw", json!({"reason": "已自行解决"})).await;

    for (name, sees) in [
        ("jm.b1.bldg1.h1", false),
        ("jm.b1.bldg1", false),
        ("jm.branch1", true),
        ("jm.committee", true),
        ("jm.admin", true),
    ] {
        let token = app.token(name).await;
        for (id, path) in [(worked, "events"), (worked, "comments"), (withdrawn, "events")] {
            let res = app.get(&format!("/api/v1/tickets/{id}/{path}"), Some(&token)).await;
            let shown = actors(res.expect(200));
            assert_eq!(shown.contains(&resident01), sees, "{name} {id}/{path}: {}", res.text);
            assert_eq!(res.text.contains(NAME), sees, "{name} {id}/{path}: {}", res.text);
        }
    }
}

/// The anonymity rows of the authorization matrix: for each kind of
/// anonymous ticket of resident01, what each of the matrix's nine callers
/// gets on every path that could name the reporter. `R`: the reporter is
/// shown (the ticket's `reporter`, the `reporter_id` filter, actors and
/// notes of the timeline and comments); `H`: the ticket is readable but
/// nothing names the reporter, and `reporter_id` does not find it; `-`: the
/// ticket is not readable at all (401 or 404) and in no list.
const ROWS: &[(&str, [char; 9])] = &[
    (
        "filed anonymously by resident01",
        ['-', 'R', '-', 'H', 'H', 'R', 'R', '-', 'R'],
    ),
    (
        "filed anonymously for resident01 by building staff",
        ['-', 'R', '-', 'H', 'H', 'R', 'R', '-', 'R'],
    ),
    (
        "filed by resident01 with their name",
        ['-', 'R', '-', 'R', 'R', 'R', 'R', '-', 'R'],
    ),
];

#[actix_web::test]
async fn anonymity_rows_of_the_authorization_matrix() {
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    app.second_community(&root).await;
    let admin = app.token("jm.admin").await;
    let resident01 = app.user_id(&admin, "resident01").await;
    let resident = app.token("resident01").await;
    let building = app.token("jm.b1.bldg1").await;
    let named = app
        .post(
            "/api/v1/complaints",
            Some(&resident),
            json!({"category": "noise", "title": "署名反映", "description": "夜间噪音。"}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let tickets = [
        file_anonymous(&app, &resident, None).await,
        file_anonymous(&app, &building, Some(resident01)).await,
        named,
    ];
    for id in tickets {
        app.post(
            &format!("/api/v1/tickets/{id}/comments"),
            Some(&resident),
            json!({"body": "请尽快处理。"}),
        )
        .await
        .expect(201);
    }
    let mut tokens = Vec::new();
    for name in USERNAMES {
        tokens.push(match name {
            None => None,
            Some("root") => Some(root.clone()),
            Some(name) => Some(app.token(name).await),
        });
    }

    let mut failures = Vec::new();
    for ((row, cells), id) in ROWS.iter().zip(tickets) {
        for ((caller, token), expected) in CALLERS.iter().zip(&tokens).zip(cells) {
            let got = anonymity_cell(&app, token.as_deref(), id, resident01).await;
            if got != Ok(*expected) {
                failures.push(format!("{row} × {caller}: expected {expected}, got {got:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What one caller gets of one ticket of `reporter` on every path, as one
/// letter of [`ROWS`], or what disagreed.
async fn anonymity_cell(app: &TestApp, token: Option<&str>, id: i64, reporter: i64) -> Result<char, String> {
    let ticket = app
        .request(Method::GET, &format!("/api/v1/tickets/{id}"), token, None)
        .await;
    let filtered = app
        .request(
            Method::GET,
            &format!("/api/v1/tickets?limit=100&reporter_id={reporter}"),
            token,
            None,
        )
        .await;
    let listed = match filtered.status.as_u16() {
        200 => ids(&filtered.body).contains(&id),
        401 => false,
        other => return Err(format!("reporter_id filter answered {other}")),
    };
    match ticket.status.as_u16() {
        401 | 404 if !listed => return Ok('-'),
        401 | 404 => return Err("not readable, yet listed".into()),
        200 => {}
        other => return Err(format!("GET ticket answered {other}")),
    }
    let mut seen = vec![
        ("ticket reporter", ticket.body["reporter"]["id"] == reporter),
        ("reporter_id filter", listed),
    ];
    for path in ["events", "comments"] {
        let res = app
            .request(Method::GET, &format!("/api/v1/tickets/{id}/{path}"), token, None)
            .await;
        if res.status.as_u16() != 200 {
            return Err(format!("{path} answered {}", res.status));
        }
        seen.push((path, actors(&res.body).contains(&reporter)));
        seen.push((path, res.text.contains(NAME)));
    }
    seen.push(("ticket text", ticket.text.contains(NAME)));
    if seen.iter().all(|(_, s)| *s) {
        Ok('R')
    } else if seen.iter().all(|(_, s)| !*s) {
        Ok('H')
    } else {
        Err(format!("paths disagree: {seen:?}"))
    }
}
