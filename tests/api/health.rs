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
