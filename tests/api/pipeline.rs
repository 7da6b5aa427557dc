//! On PostgreSQL, one ticket is read over the worker's pipelined connection
//! (`Db::pipelined`), which every request on the worker shares: statements
//! of requests in flight together travel together, and their answers come
//! back in order. The test server has one worker, so a burst of requests
//! shares one connection. On SQLite the same requests read as always.

use futures_util::future::join_all;

use crate::support::TestApp;

/// A burst of reads (tickets a caller may see, may not see, and that do not
/// exist, by callers who see different things) answers each request exactly
/// as the same request answers alone: a statement's answer is never handed
/// to another request, and an error (a 404) does not upset the rest.
#[actix_web::test]
async fn reads_in_flight_together_each_get_their_own_answer() {
    let app = TestApp::with_sample_tickets().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let listed = app.get("/api/v1/tickets?limit=100", Some(&admin)).await;
    let ids: Vec<i64> = listed.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert!(ids.len() >= 10, "the demo holds {} tickets", ids.len());
    let missing = ids.iter().max().unwrap() + 1_000;
    let mut requests = Vec::new();
    for id in ids.iter().copied().chain([missing, -1]) {
        for token in [&admin, &resident, &household] {
            requests.push((format!("/api/v1/tickets/{id}"), token.clone()));
        }
    }

    let mut alone = Vec::new();
    for (path, token) in &requests {
        let res = app.get(path, Some(token)).await;
        alone.push((res.status, res.body.clone()));
    }
    let statuses: Vec<u16> = alone.iter().map(|(status, _)| status.as_u16()).collect();
    assert!(statuses.contains(&200) && statuses.contains(&404), "{statuses:?}");
    assert!(
        alone
            .iter()
            .filter(|(status, _)| status.as_u16() == 200)
            .all(|(_, body)| body["id"].is_i64()),
        "every 200 is a ticket"
    );

    for round in 0..3 {
        let together = join_all(requests.iter().map(|(path, token)| app.get(path, Some(token)))).await;
        for ((path, _), (res, (status, body))) in requests.iter().zip(together.iter().zip(&alone)) {
            assert_eq!(res.status, *status, "round {round}: {path}: {}", res.text);
            assert_eq!(&res.body, body, "round {round}: {path}");
        }
    }
}

/// A pipelined connection PostgreSQL closed (a restart, a failover) is
/// never used again: the read that finds it closed is read through libpq
/// (whose reader may fail one read with a retryable 503 in turn), and the
/// next opens another pipelined connection.
#[actix_web::test]
async fn a_pipelined_connection_the_database_closed_is_replaced() {
    let app = TestApp::with_sample_tickets().await;
    let admin = app.token("jm.admin").await;
    let listed = app.get("/api/v1/tickets?limit=1", Some(&admin)).await;
    let path = format!("/api/v1/tickets/{}", listed.expect(200)["items"][0]["id"]);
    let ticket = app.get(&path, Some(&admin)).await.expect(200).clone();
    if app.db.pipelines() {
        assert_eq!(
            pipelined_connections(&app),
            1,
            "the worker reads over a pipelined connection"
        );
    }
    let closed = crate::health::close_server_connections(&app);
    assert_eq!(pipelined_connections(&app), 0);
    let mut failed = 0;
    let mut answers = Vec::new();
    for _ in 0..12 {
        let res = app.get(&path, Some(&admin)).await;
        if res.status == 503 {
            res.expect_problem(503, "service_unavailable");
            failed += 1;
        } else {
            assert_eq!(res.expect(200), &ticket);
        }
        answers.push(res.status.as_u16());
    }
    // The worker's libpq reader, which read in place of the pipelined one.
    assert!(failed <= 1, "{answers:?}");
    assert!(answers[2..].iter().all(|s| *s == 200), "{answers:?}");
    if closed {
        assert_eq!(pipelined_connections(&app), 1, "the closed one was replaced, once");
    } else {
        assert_eq!(failed, 0);
    }
}

/// The server's pipelined connections to the test's database, by their
/// `application_name`.
fn pipelined_connections(app: &TestApp) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db.maintenance_connection().unwrap();
    let griddesk::db::AnyConnection::Postgres(pg) = &mut conn else {
        return 0;
    };
    diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
    )
    .bind::<diesel::sql_types::Text, _>(griddesk::db::pipeline::APPLICATION_NAME)
    .get_result::<Count>(pg)
    .unwrap()
    .n
}

/// The pipelined connection is read-only, as the workers' libpq readers
/// are: a write sent there by mistake fails and changes nothing.
#[actix_web::test]
async fn a_write_sent_to_the_pipelined_connection_fails_and_changes_nothing() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let rename = "UPDATE units SET name = 'renamed by a read' WHERE parent_id IS NULL";
    let db = app.db.clone();
    let sent = db
        .pipelined(move |conn| async move {
            let mut conn = &*conn;
            diesel::sql_query(rename).execute(&mut conn).await
        })
        .await;
    // Refused (the caller then reads through libpq), or never sent
    // (SQLite): no count of rows written.
    assert!(!matches!(sent, Ok(Some(_))), "a pipelined read wrote: {sent:?}");
    let units = app.get("/api/v1/units", Some(&admin)).await.expect(200).to_string();
    assert!(!units.contains("renamed by a read"), "{units}");
}

/// A read whose request goes away while it opens the worker's pipelined
/// connection (its client hung up) does not leave the worker reading
/// through libpq for good: the next read opens the connection.
#[actix_web::test]
async fn a_read_dropped_while_opening_the_connection_leaves_no_mark_behind() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let read = |db: griddesk::db::Db| async move {
        db.pipelined(|conn| async move {
            let mut conn = &*conn;
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
                .get_result::<i32>(&mut conn)
                .await
        })
        .await
    };
    let mut abandoned = Box::pin(read(app.db.clone()));
    // Polled once: it is opening the connection (on SQLite, done at once:
    // there is none), and is then dropped.
    let first = futures_util::poll!(&mut abandoned);
    assert_eq!(first.is_pending(), app.db.pipelines());
    drop(abandoned);
    let answered = read(app.db.clone()).await.unwrap();
    if app.db.pipelines() {
        assert_eq!(answered, Some(1));
    } else {
        assert_eq!(answered, None);
    }
}

/// Pages of unfiltered lists (on PostgreSQL read as ids and versions, with
/// the rows of each version remembered: `db::ticket_rows`) show every
/// ticket exactly as reading it alone does, before and after a change; a
/// page never shows a ticket as it was before a change. Both kinds of such
/// page: a community's (the admin's) and a resident's own.
#[actix_web::test]
async fn a_page_shows_each_ticket_as_it_is_now() {
    let app = TestApp::with_sample_tickets().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let same_as_alone = |token: String| {
        let app = &app;
        async move {
            let page = app
                .get("/api/v1/tickets?limit=100", Some(&token))
                .await
                .expect(200)
                .clone();
            let items = page["items"].as_array().unwrap().clone();
            assert!(!items.is_empty());
            for item in &items {
                let alone = app.get(&format!("/api/v1/tickets/{}", item["id"]), Some(&token)).await;
                assert_eq!(alone.expect(200), item, "ticket {}", item["id"]);
            }
            items
        }
    };
    same_as_alone(admin.clone()).await;
    let own = same_as_alone(resident.clone()).await;
    let open = own
        .iter()
        .find(|t| t["actions"].as_array().unwrap().iter().any(|a| a == "withdraw"))
        .expect("resident01 has a ticket they may withdraw");
    let id = open["id"].as_i64().unwrap();
    let version = open["version"].as_i64().unwrap();

    app.post(
        &format!("/api/v1/tickets/{id}/withdraw"),
        Some(&resident),
        serde_json::json!({"reason": "已自行解决"}),
    )
    .await
    .expect(200);

    for token in [admin, resident] {
        let items = same_as_alone(token).await;
        let now = items.iter().find(|t| t["id"] == id).expect("still listed");
        assert_eq!(now["status"], "withdrawn");
        assert_eq!(now["version"], version + 1);
    }
}
