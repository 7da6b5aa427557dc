//! Limits on abuse: failed sign-ins per account and per address, filings per
//! resident per hour; each answers 429 with `Retry-After`.

use chrono::Duration;
use serde_json::json;

use crate::support::{PASSWORD, TestApp};

async fn login(app: &TestApp, username: &str, password: &str) -> crate::support::Res {
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

fn retry_after(res: &crate::support::Res) -> i64 {
    res.header("retry-after").unwrap().parse().unwrap()
}

#[actix_web::test]
async fn five_failed_sign_ins_lock_the_account_for_fifteen_minutes() {
    let app = TestApp::with_demo().await;
    for _ in 0..5 {
        login(&app, "resident01", "wrong-password")
            .await
            .expect_problem(401, "invalid_credentials");
    }
    // Locked, even with the right password, whatever the case typed.
    let res = login(&app, "Resident01", PASSWORD).await;
    res.expect_problem(429, "too_many_login_attempts");
    assert!(
        (890..=900).contains(&retry_after(&res)),
        "{:?}",
        res.header("retry-after")
    );
    // Another account from the same address is not affected.
    login(&app, "resident02", PASSWORD).await.expect(200);

    app.clock.advance(Duration::minutes(15));
    login(&app, "resident01", PASSWORD).await.expect(200);
    // A success clears the account's failures.
    for _ in 0..4 {
        login(&app, "resident01", "wrong-password").await.expect(401);
    }
    login(&app, "resident01", PASSWORD).await.expect(200);
    login(&app, "resident01", "wrong-password").await.expect(401);
    login(&app, "resident01", PASSWORD).await.expect(200);
}

#[actix_web::test]
async fn a_stolen_token_cannot_guess_the_password_through_a_password_change() {
    let app = TestApp::with_demo().await;
    let token = app.token("resident01").await;
    let change = |current: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            app.post(
                "/api/v1/me/password",
                Some(token.as_str()),
                json!({"current_password": current, "new_password": "brand-new-secret"}),
            )
            .await
        }
    };
    for _ in 0..5 {
        change("wrong-guess").await.expect_problem(403, "wrong_password");
    }
    // Locked, even with the right password; signing in is a separate count.
    let res = change(PASSWORD).await;
    res.expect_problem(429, "too_many_password_attempts");
    assert!((890..=900).contains(&retry_after(&res)));
    login(&app, "resident01", PASSWORD).await.expect(200);

    app.clock.advance(Duration::minutes(15));
    change(PASSWORD).await.expect(204);
}

#[actix_web::test]
async fn thirty_failures_from_one_address_lock_the_address() {
    let app = TestApp::with_demo().await;
    for n in 0..30 {
        // Unknown accounts: each account stays under its own limit.
        login(&app, &format!("nobody{n}"), "guess-guess")
            .await
            .expect_problem(401, "invalid_credentials");
    }
    let res = login(&app, "resident01", PASSWORD).await;
    res.expect_problem(429, "too_many_login_attempts");
    assert!(retry_after(&res) > 0);
    assert_eq!(
        res.body["title"], "Too Many Requests",
        "a problem document like every error"
    );
    app.clock.advance(Duration::minutes(16));
    login(&app, "resident01", PASSWORD).await.expect(200);
}

#[actix_web::test]
async fn a_resident_files_at_most_ten_tickets_an_hour() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let body = json!({"category": "noise", "title": "噪音", "description": "夜间噪音。"});
    let mut first_key = None;
    for n in 0..10 {
        let key = format!("key-{n}");
        let res = app
            .raw(
                actix_web::http::Method::POST,
                "/api/v1/complaints",
                Some(&resident),
                &[("Idempotency-Key", &key)],
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await;
        res.expect(201);
        first_key.get_or_insert(key);
    }
    let res = app.post("/api/v1/complaints", Some(&resident), body.clone()).await;
    res.expect_problem(429, "too_many_filings");
    assert!((3590..=3600).contains(&retry_after(&res)));
    let dispute = json!({"category": "neighbour_dispute", "title": "纠纷", "description": "协商未果。",
        "respondents": [{"name": "李先生"}]});
    app.post("/api/v1/disputes", Some(&resident), dispute)
        .await
        .expect_problem(429, "too_many_filings");
    // A retry of an earlier filing still answers its first response.
    let replay = app
        .raw(
            actix_web::http::Method::POST,
            "/api/v1/complaints",
            Some(&resident),
            &[("Idempotency-Key", first_key.as_deref().unwrap())],
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await;
    replay.expect(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    // Staff filing for the resident (a phone call) are not held back.
    let admin = app.token("jm.admin").await;
    let me = app.user_id(&admin, "resident01").await;
    let mut on_behalf = body.clone();
    on_behalf["on_behalf_of"] = json!(me);
    app.post("/api/v1/complaints", Some(&admin), on_behalf)
        .await
        .expect(201);

    app.clock.advance(Duration::minutes(61));
    let resident = app.token("resident01").await;
    app.post("/api/v1/complaints", Some(&resident), body).await.expect(201);
    let list = app
        .get("/api/v1/tickets?limit=100", Some(&resident))
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 12, "nothing refused was filed");
}

/// Sent as one burst, a resident's filings get exactly the hourly
/// allowance and 429 for the rest, on either database.
#[actix_web::test]
async fn a_burst_of_filings_gets_exactly_the_allowance() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let body = json!({"category": "noise", "title": "噪音", "description": "楼上很吵。"});
    let answers =
        futures_util::future::join_all((0..20).map(|_| app.post("/api/v1/complaints", Some(&resident), body.clone())))
            .await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [[201; 10].as_slice(), [429; 10].as_slice()].concat());
    let list = app
        .get("/api/v1/tickets?limit=100", Some(&resident))
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 10);
}

fn tally(answers: &[crate::support::Res]) -> std::collections::BTreeMap<u16, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for res in answers {
        *counts.entry(res.status.as_u16()).or_insert(0) += 1;
    }
    counts
}

/// Sent as one burst, wrong passwords get exactly the allowance judged (5)
/// and 429 for the rest; the right password is then refused too. The same
/// for wrong current passwords on `POST /me/password`.
#[actix_web::test]
async fn a_burst_of_wrong_passwords_gets_exactly_the_allowance() {
    let app = TestApp::with_demo().await;
    let answers = futures_util::future::join_all((0..20).map(|_| login(&app, "resident01", "wrong-password"))).await;
    assert_eq!(tally(&answers), [(401, 5), (429, 15)].into_iter().collect(), "sign-ins");
    login(&app, "resident01", PASSWORD)
        .await
        .expect_problem(429, "too_many_login_attempts");

    let token = app.token("resident02").await;
    let change = || {
        app.post(
            "/api/v1/me/password",
            Some(&token),
            json!({"current_password": "not-my-password", "new_password": "a-new-long-password-2026"}),
        )
    };
    let answers = futures_util::future::join_all((0..20).map(|_| change())).await;
    assert_eq!(
        tally(&answers),
        [(403, 5), (429, 15)].into_iter().collect(),
        "password changes"
    );
    app.post(
        "/api/v1/me/password",
        Some(&token),
        json!({"current_password": PASSWORD, "new_password": "a-new-long-password-2026"}),
    )
    .await
    .expect_problem(429, "too_many_password_attempts");
}

/// Two replicas on one database share the sign-in counts: a burst of wrong
/// passwords split across both gets exactly the account's allowance judged,
/// and neither replica then lets the right password through.
#[actix_web::test]
async fn replicas_on_one_database_share_an_accounts_failures() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let servers = [&app, &other];
    let answers =
        futures_util::future::join_all((0..20).map(|n| login(servers[n % 2], "resident01", "wrong-password"))).await;
    assert_eq!(tally(&answers), [(401, 5), (429, 15)].into_iter().collect());
    for server in servers {
        login(server, "resident01", PASSWORD)
            .await
            .expect_problem(429, "too_many_login_attempts");
    }
    app.clock.advance(Duration::minutes(15));
    login(&other, "resident01", PASSWORD).await.expect(200);
}

/// The same for one client address's failures, across many accounts.
#[actix_web::test]
async fn replicas_on_one_database_share_an_addresss_failures() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let servers = [&app, &other];
    let answers = futures_util::future::join_all(
        (0..44).map(|n| async move { login(servers[n % 2], &format!("nobody{n}"), "guess-guess").await }),
    )
    .await;
    assert_eq!(tally(&answers), [(401, 30), (429, 14)].into_iter().collect());
    for server in servers {
        let res = login(server, "resident01", PASSWORD).await;
        res.expect_problem(429, "too_many_login_attempts");
        assert!((890..=900).contains(&retry_after(&res)));
    }
    app.clock.advance(Duration::minutes(16));
    login(&other, "resident01", PASSWORD).await.expect(200);
}

async fn register(app: &TestApp, username: &str, building: i64) -> crate::support::Res {
    app.post(
        "/api/v1/auth/register",
        None,
        json!({"username": username, "password": "a-long-password-1", "display_name": "新住户",
            "phone": "13912345678", "building_id": building, "room": "1-101"}),
    )
    .await
}

/// One client address registers at most 10 times an hour; a burst split
/// over two replicas gets exactly that, and nothing refused is created.
#[actix_web::test]
async fn an_address_registers_at_most_ten_times_an_hour() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let admin = app.token("jm.admin").await;
    let building = app.unit_id(&admin, "JM-B1-01").await;
    let servers = [&app, &other];
    let answers = futures_util::future::join_all(
        (0..16).map(|n| async move { register(servers[n % 2], &format!("newcomer{n}"), building).await }),
    )
    .await;
    assert_eq!(tally(&answers), [(201, 10), (429, 6)].into_iter().collect());
    for server in servers {
        let res = register(server, "latecomer", building).await;
        res.expect_problem(429, "too_many_registrations");
        assert!(
            (3590..=3600).contains(&retry_after(&res)),
            "{:?}",
            res.header("retry-after")
        );
    }
    let created = app
        .get("/api/v1/users?q=newcomer&limit=100", Some(&admin))
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(created, 10);

    app.clock.advance(Duration::minutes(61));
    register(&other, "latecomer", building).await.expect(201);
}

/// Password checks wait for a turn at the hash gate; when none frees in
/// time the answer is 503 `server_busy` with `Retry-After`, and the attempt
/// is not counted against any limit.
#[actix_web::test]
async fn sign_ins_that_find_the_hash_gate_full_get_503_and_do_not_count() {
    let gate = griddesk::auth::password::HashGate::new(1, std::time::Duration::ZERO);
    let held = gate.clone();
    let app = TestApp::spawn_with(move |state| {
        state.hash_gate = gate;
        state.limits.sign_in_address.allowed = 10;
    })
    .await;
    // Another hash holds the only permit meanwhile.
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let holder = actix_web::rt::spawn(async move { held.run(move |_| hold.recv()).await });
    actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    let app = &app;
    let answers = futures_util::future::join_all(
        (0..10).map(|n| async move { login(app, &format!("nobody{n}"), "guess-guess").await }),
    )
    .await;
    for res in &answers {
        res.expect_problem(503, "server_busy");
        assert_eq!(res.header("retry-after"), Some("1"));
    }
    release.send(()).unwrap();
    holder.await.unwrap().unwrap().unwrap();
    // None of the ten counted: the address still has all ten failures.
    for n in 0..10 {
        login(app, &format!("nobody{n}"), "guess-guess")
            .await
            .expect_problem(401, "invalid_credentials");
    }
    login(app, "nobody10", "guess-guess")
        .await
        .expect_problem(429, "too_many_login_attempts");
}

/// Counted attempts older than the longest window (an hour) are deleted by
/// the worker's pass, so distinct keys cannot pile up.
#[actix_web::test]
async fn attempts_past_the_longest_window_are_pruned() {
    let app = TestApp::with_demo().await;
    for n in 0..3 {
        login(&app, &format!("nobody{n}"), "guess-guess").await.expect(401);
    }
    let prune = |minutes| {
        let db = app.db.clone();
        let now = app.clock.now_naive() + Duration::minutes(minutes);
        actix_web::web::block(move || griddesk::limits::prune(&db, now))
    };
    assert_eq!(prune(59).await.unwrap().unwrap(), 0, "still inside the hour");
    // Three accounts and three times the address.
    assert_eq!(prune(61).await.unwrap().unwrap(), 6);
    assert_eq!(prune(61).await.unwrap().unwrap(), 0);
}
