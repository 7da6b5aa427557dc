use crate::support::TestApp;

#[actix_web::test]
async fn healthz_and_readyz_answer_while_the_database_does() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz", None).await.expect(200)["status"], "ok");
    assert_eq!(app.get("/readyz", None).await.expect(200)["status"], "ok");
}

#[actix_web::test]
async fn readyz_is_503_when_no_database_connection_can_be_had() {
    let app = TestApp::spawn().await;
    // Hold every connection of the server's pool: the database "does not answer".
    let db = app.db.clone();
    let size = db.pool_size();
    let held = actix_web::web::block(move || (0..size).map(|_| db.conn().unwrap()).collect::<Vec<_>>())
        .await
        .unwrap();
    let res = app.get("/readyz", None).await;
    res.expect_problem(503, "service_unavailable");
    assert_eq!(res.header("retry-after"), Some("5"));
    assert_eq!(app.get("/healthz", None).await.expect(200)["status"], "ok");
    drop(held);
    app.get("/readyz", None).await.expect(200);
}

/// Closes every other connection to the test's database, as a PostgreSQL
/// restart or failover would; `false` on SQLite, whose connections are
/// files nothing outside the process closes. Each is gone when this returns
/// (the timeout waits for it): a backend still exiting under load would
/// otherwise answer a few more requests and fail a later one.
pub fn close_server_connections(app: &TestApp) -> bool {
    use diesel::RunQueryDsl;
    let mut conn = app.db.maintenance_connection().unwrap();
    match &mut conn {
        griddesk::db::AnyConnection::Postgres(pg) => {
            diesel::sql_query(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .execute(pg)
            .unwrap();
            true
        }
        griddesk::db::AnyConnection::Sqlite(_) => false,
    }
}

/// The pool does not ask the database about a connection that answered a
/// moment ago (a round trip per request). So a connection PostgreSQL closed
/// meanwhile fails at most one request, with a retryable 503, and is
/// replaced, never handed out again; one idle for longer is asked first,
/// and no request sees it. (On SQLite only the requests around it run.)
#[actix_web::test]
async fn connections_the_database_closed_are_replaced_not_kept() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let pool = usize::try_from(app.db.pool_size()).unwrap();
    let list = "/api/v1/tickets?limit=1";
    for _ in 0..2 * pool {
        app.get(list, Some(&admin)).await.expect(200);
    }

    // Closed while in use: a few answers may be 503, then every one is 200.
    let closed = close_server_connections(&app);
    let (mut failed, mut in_a_row) = (0, 0);
    for _ in 0..4 * pool + 8 {
        let res = app.get(list, Some(&admin)).await;
        if res.status == 503 {
            res.expect_problem(503, "service_unavailable");
            failed += 1;
            in_a_row = 0;
        } else {
            res.expect(200);
            in_a_row += 1;
        }
    }
    assert!(failed <= pool, "{failed} answers failed for {pool} closed connections");
    assert!(
        in_a_row >= 3 * pool,
        "only the last {in_a_row} answers were 200: a closed connection was kept"
    );
    if !closed {
        assert_eq!(failed, 0);
    }

    // Closed while idle: the pool asks before handing one out.
    for _ in 0..2 * pool {
        app.get(list, Some(&admin)).await.expect(200);
    }
    close_server_connections(&app);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2_500)).await;
    for _ in 0..2 * pool {
        app.get(list, Some(&admin)).await.expect(200);
    }
}

/// Requests wait for a connection in turn (`Db::run_long`): a burst of
/// statistics reads six times the pool is answered in full, and a turn is
/// given back after each, so a second burst is too (a turn kept by a
/// finished request would leave later ones waiting out the 10 s: 503).
#[actix_web::test]
async fn a_burst_of_long_reads_larger_than_the_pool_is_answered_in_full() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let committee = app.unit_id(&admin, "JM").await;
    let path = format!("/api/v1/stats?unit_id={committee}");
    let burst = 6 * usize::try_from(app.db.pool_size()).unwrap();
    for _ in 0..2 {
        let answers = futures_util::future::join_all((0..burst).map(|_| app.get(&path, Some(&admin)))).await;
        for res in &answers {
            assert_eq!(res.expect(200)["total"], answers[0].expect(200)["total"]);
        }
    }
}

/// Short reads run on each worker's own connection (`Db::run`), which is
/// read-only on both databases: a write sent there by mistake fails loudly
/// instead of committing outside the writer (SQLite) or outside a write
/// transaction (PostgreSQL). The same write through `Db::write` commits.
#[actix_web::test]
async fn a_write_sent_to_a_short_read_fails_and_changes_nothing() {
    use diesel::RunQueryDsl;
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let rename = "UPDATE units SET name = 'renamed by a read' WHERE parent_id IS NULL";
    let refused = app
        .db
        .run(move |conn| Ok(diesel::sql_query(rename).execute(conn)?))
        .await;
    assert!(refused.is_err(), "a short read wrote: {refused:?}");
    let res = app.get("/api/v1/units", Some(&admin)).await;
    let units = res.expect(200).to_string();
    assert!(!units.contains("renamed by a read"), "{units}");
    // The connection is not left broken: reads go on as before.
    app.get("/api/v1/units", Some(&admin)).await.expect(200);
    let written = app
        .db
        .write(move |conn| Ok(diesel::sql_query(rename).execute(conn)?))
        .await
        .unwrap();
    assert!(written >= 1);
    let res = app.get("/api/v1/units", Some(&admin)).await;
    let units = res.expect(200).to_string();
    assert!(units.contains("renamed by a read"), "{units}");
}
