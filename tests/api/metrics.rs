//! Prometheus metrics: scraped over HTTP from their own listener, parsed as
//! the text format, and checked for counts, gauges, worker passes, limit
//! refusals, and the absence of anything personal. Each server has its own
//! registry, so every count here is exact however the tests interleave.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use actix_web::HttpServer;
use chrono::Duration;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, TestDb};
use crate::tickets::file;

/// One line of the text format: `name{label="value",…} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, parsed.
#[derive(Debug)]
struct Scrape {
    text: String,
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

/// Parses `label="value",…}` (the text format's escapes: `\\`, `\"`, `\n`)
/// and answers the labels and what follows the `}`.
fn parse_labels(mut rest: &str) -> (BTreeMap<String, String>, &str) {
    let mut labels = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches(',');
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after);
        }
        let (name, after) = rest.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("a closing quote") {
                (_, '\\') => match chars.next().expect("an escaped character").1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.to_owned(), value);
        rest = &after[end + 1..];
    }
}

fn parse(text: String) -> Scrape {
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(declared) = line.strip_prefix("# TYPE ") {
            let (name, kind) = declared.split_once(' ').expect("# TYPE name kind");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).expect("a sample line");
        let name = line[..name_end].to_owned();
        let (labels, value) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end + 1..])
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let value = value.trim().split(' ').next().unwrap();
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("a number in {line}")),
        };
        samples.push(Sample { name, labels, value });
    }
    Scrape { text, types, samples }
}

impl Scrape {
    /// The value of the sample with exactly these labels.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
            .map(|s| s.value)
    }

    #[track_caller]
    fn expect(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?} in:\n{}", self.text))
    }

    #[track_caller]
    fn expect_type(&self, name: &str, kind: &str) {
        assert_eq!(
            self.types.get(name).map(String::as_str),
            Some(kind),
            "# TYPE of {name} in:\n{}",
            self.text
        );
    }
}

/// The metrics app on a loopback listener of its own, as `--metrics-bind`
/// serves it; stops when dropped.
struct MetricsListener {
    base: String,
    client: awc::Client,
    server: actix_web::dev::ServerHandle,
}

impl MetricsListener {
    fn start(app: &TestApp) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (metrics, db) = (app.metrics.clone(), app.db.clone());
        let server = HttpServer::new(move || griddesk::build_metrics_app(metrics.clone(), db.clone()))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            client: awc::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .finish(),
            server: handle,
        }
    }

    async fn get(&self, path: &str) -> (u16, Option<String>, String) {
        let mut res = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        let body = res.body().limit(16 * 1024 * 1024).await.unwrap();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (
            res.status().as_u16(),
            content_type,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    async fn scrape(&self) -> Scrape {
        let (status, content_type, text) = self.get("/metrics").await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(
            content_type.as_deref(),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        parse(text)
    }
}

impl Drop for MetricsListener {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}

const REQUESTS: &str = "griddesk_http_requests_total";
const DURATION: &str = "griddesk_http_request_duration_seconds";

fn request(method: &'static str, route: &'static str, status: &'static str) -> [(&'static str, &'static str); 3] {
    [("method", method), ("route", route), ("status", status)]
}

#[actix_web::test]
async fn requests_are_counted_under_their_route_pattern_and_status() {
    let app = TestApp::with_demo().await;
    let metrics = MetricsListener::start(&app);
    let resident = app.token("resident01").await;
    for id in [987_654_321, 987_654_322, 987_654_323] {
        app.get(&format!("/api/v1/tickets/{id}?q=anything"), Some(&resident))
            .await
            .expect_problem(404, "not_found");
    }
    app.get("/no/such/place/55501", None).await.expect(404);
    app.get("/api/v1/no-such-resource?page=2", None).await.expect(404);
    app.raw(
        actix_web::http::Method::from_bytes(b"BREW").unwrap(),
        "/healthz",
        None,
        &[],
        None,
    )
    .await;

    let scrape = metrics.scrape().await;
    scrape.expect_type(REQUESTS, "counter");
    scrape.expect_type(DURATION, "histogram");
    let ticket_404 = request("GET", "/api/v1/tickets/{id}", "404");
    assert_eq!(scrape.expect(REQUESTS, &ticket_404), 3.0);
    assert_eq!(scrape.expect(&format!("{DURATION}_count"), &ticket_404), 3.0);
    assert!(scrape.expect(&format!("{DURATION}_sum"), &ticket_404) > 0.0);
    let mut bucket = ticket_404.to_vec();
    bucket.push(("le", "+Inf"));
    assert_eq!(scrape.expect(&format!("{DURATION}_bucket"), &bucket), 3.0);
    bucket.pop();
    bucket.push(("le", "0.001"));
    assert!(scrape.expect(&format!("{DURATION}_bucket"), &bucket) <= 3.0);
    // The sign-in `token()` made, and every unknown path under one label.
    assert_eq!(
        scrape.expect(REQUESTS, &request("POST", "/api/v1/auth/login", "200")),
        1.0
    );
    assert_eq!(scrape.expect(REQUESTS, &request("GET", "unmatched", "404")), 2.0);
    // An invented method is `other`, not a series of its own.
    let brewed: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.name == REQUESTS && s.labels["route"] == "/healthz")
        .collect();
    assert_eq!(brewed.len(), 1, "{brewed:?}");
    assert_eq!(brewed[0].labels["method"], "other");
    assert!(!scrape.text.contains("BREW"));

    // Scrapes are not requests of the API: counting is unchanged by them.
    let again = metrics.scrape().await;
    assert_eq!(again.expect(REQUESTS, &ticket_404), 3.0);
    assert_eq!(again.value(REQUESTS, &request("GET", "/metrics", "200")), None);
}

#[actix_web::test]
async fn metrics_are_served_on_their_own_listener_only() {
    let app = TestApp::spawn().await;
    let metrics = MetricsListener::start(&app);
    // The API port has no /metrics.
    app.get("/metrics", None).await.expect_problem(404, "not_found");
    app.get("/api/v1/metrics", None).await.expect_problem(404, "not_found");
    // The metrics listener has nothing else.
    for path in ["/healthz", "/api/v1/categories", "/api-docs/openapi.json", "/metrics/x"] {
        let (status, _, body) = metrics.get(path).await;
        assert_eq!((status, body.as_str()), (404, ""), "{path}");
    }
    let scrape = metrics.scrape().await;
    assert_eq!(
        scrape.expect(REQUESTS, &request("GET", "unmatched", "404")),
        2.0,
        "the API's two 404s, none of the listener's"
    );
}

#[actix_web::test]
async fn the_pool_and_the_writer_queue_are_gauges_read_at_scrape_time() {
    let app = TestApp::spawn().await;
    let metrics = MetricsListener::start(&app);
    app.get("/readyz", None).await.expect(200);
    let scrape = metrics.scrape().await;
    for name in [
        "griddesk_db_pool_connections",
        "griddesk_db_pool_idle_connections",
        "griddesk_db_writer_queue_depth",
    ] {
        scrape.expect_type(name, "gauge");
    }
    let pool = [("pool", pool_name(&app.database.url))];
    let connections = scrape.expect("griddesk_db_pool_connections", &pool);
    let idle = scrape.expect("griddesk_db_pool_idle_connections", &pool);
    // The test server's pool holds at most 4.
    assert!((1.0..=4.0).contains(&connections), "{connections}");
    assert!((0.0..=connections).contains(&idle), "{idle} of {connections}");
    assert_eq!(scrape.expect("griddesk_db_writer_queue_depth", &[]), 0.0);

    // Holding a connection shows at the next scrape.
    let db = app.db.clone();
    let held = actix_web::web::block(move || db.conn().unwrap()).await.unwrap();
    let scrape = metrics.scrape().await;
    let busy = scrape.expect("griddesk_db_pool_connections", &pool)
        - scrape.expect("griddesk_db_pool_idle_connections", &pool);
    assert!(busy >= 1.0, "{}", scrape.text);
    drop(held);
}

/// Makes the database refuse the audit rows of reads, or, with `false`,
/// accept them again.
async fn refuse_rows_of_reads(app: &TestApp, refuse: bool) {
    app.refuse_inserts("refuse_rows_of_reads", "audit_log", "NEW.kind = 'read'", refuse)
        .await;
}

#[actix_web::test]
async fn the_audit_queue_shows_its_depth_its_batches_and_the_rows_it_lost() {
    let app = TestApp::with_demo().await;
    let metrics = MetricsListener::start(&app);
    let admin = app.token("jm.admin").await;
    let (depth, waits, batches, lost) = (
        "griddesk_audit_queue_depth",
        "griddesk_audit_queue_full_waits_total",
        "griddesk_audit_queue_batch_duration_seconds",
        "griddesk_audit_rows_lost_total",
    );
    let before = metrics.scrape().await;
    before.expect_type(depth, "gauge");
    before.expect_type(waits, "counter");
    before.expect_type(batches, "histogram");
    before.expect_type(lost, "counter");
    let batches_before = before.expect(&format!("{batches}_count"), &[]);
    let resident = app.token("resident01").await;
    let mut ids = Vec::new();
    for title in ["夜间噪音", "楼道堆物", "电梯故障"] {
        ids.push(file(&app, &resident, "noise", title).await["id"].as_i64().unwrap());
    }
    let read_all = || async {
        for id in &ids {
            app.get(&format!("/api/v1/tickets/{id}"), Some(&admin))
                .await
                .expect(200);
        }
        app.audit.drain().await;
    };

    // Each of an admin's reads queues a row; once written, none waits.
    read_all().await;
    let written = metrics.scrape().await;
    assert_eq!(written.expect(depth, &[]), 0.0, "{}", written.text);
    let batches_written = written.expect(&format!("{batches}_count"), &[]);
    assert!(
        (batches_before + 1.0..=batches_before + 3.0).contains(&batches_written),
        "three reads in 1 to 3 batches: {batches_before} -> {batches_written}"
    );
    assert_eq!(written.expect(lost, &[]), 0.0);
    assert_eq!(written.expect(waits, &[]), 0.0, "the queue was never full");

    // Rows the database refuses are counted as lost, and the queue goes on.
    refuse_rows_of_reads(&app, true).await;
    read_all().await;
    let refused = metrics.scrape().await;
    assert_eq!(refused.expect(lost, &[]), 3.0, "{}", refused.text);
    assert_eq!(refused.expect(depth, &[]), 0.0);
    refuse_rows_of_reads(&app, false).await;
    read_all().await;
    let again = metrics.scrape().await;
    assert_eq!(again.expect(lost, &[]), 3.0);
    let trail = app
        .get("/api/v1/audit?limit=100", Some(&admin))
        .await
        .expect(200)
        .clone();
    let reads = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "read" && e["action"] == "GET /api/v1/tickets/{id}")
        .count();
    assert_eq!(reads, 6, "the first and the last three reads are in the trail");
}

#[actix_web::test]
async fn refusals_are_counted_by_the_limit_reached() {
    let app = TestApp::with_demo().await;
    let metrics = MetricsListener::start(&app);
    let limit = "griddesk_limit_rejections_total";
    let before = metrics.scrape().await;
    before.expect_type(limit, "counter");
    for scope in [
        "sign_in_account",
        "sign_in_address",
        "password_change",
        "registration_address",
    ] {
        assert_eq!(before.expect(limit, &[("limit", scope)]), 0.0, "{scope}");
    }
    let login = |password: &'static str| {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"username": "resident01", "password": password}),
        )
    };
    for _ in 0..5 {
        login("wrong-password").await.expect(401);
    }
    login(PASSWORD).await.expect_problem(429, "too_many_login_attempts");
    login(PASSWORD).await.expect_problem(429, "too_many_login_attempts");

    let after = metrics.scrape().await;
    assert_eq!(after.expect(limit, &[("limit", "sign_in_account")]), 2.0);
    assert_eq!(after.expect(limit, &[("limit", "sign_in_address")]), 0.0);
    assert_eq!(after.expect(limit, &[("limit", "password_change")]), 0.0);
    assert_eq!(
        after.expect(REQUESTS, &request("POST", "/api/v1/auth/login", "429")),
        2.0
    );
    assert_eq!(
        after.expect(REQUESTS, &request("POST", "/api/v1/auth/login", "401")),
        5.0
    );
}

/// Strings that must never appear in a scrape.
const PROBE_USER: &str = "zqprobe.metrics";
const PROBE_TICKET: &str = "7654321";
const PROBE_PHONE: &str = "13912345678";

#[actix_web::test]
async fn no_personal_data_reaches_a_scrape() {
    let app = TestApp::with_demo().await;
    let metrics = MetricsListener::start(&app);
    let admin = app.token("jm.admin").await;
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"username": PROBE_USER, "password": "not-the-password"}),
    )
    .await
    .expect(401);
    app.get(&format!("/api/v1/tickets/{PROBE_TICKET}"), Some(&admin))
        .await
        .expect(404);
    app.get(&format!("/api/v1/tickets?q={PROBE_PHONE}"), Some(&admin))
        .await
        .expect(200);
    app.get(&format!("/api/v1/users?q={PROBE_USER}"), Some(&admin))
        .await
        .expect(200);
    app.get(&format!("/api/v1/{PROBE_USER}/{PROBE_TICKET}"), None)
        .await
        .expect(404);
    app.get(&format!("/api/v1/units/{PROBE_TICKET}/tree"), Some(&admin))
        .await
        .expect(404);

    let scrape = metrics.scrape().await;
    for personal in [
        PROBE_USER,
        "zqprobe",
        PROBE_TICKET,
        PROBE_PHONE,
        "127.0.0.1",
        "jm.admin",
        "?",
    ] {
        assert!(
            !scrape.text.contains(personal),
            "`{personal}` reached the scrape:\n{}",
            scrape.text
        );
    }
    // Every label is one of a fixed few, and every route a documented
    // pattern (or `unmatched`): nothing a caller typed.
    let doc = griddesk::openapi();
    let mut routes: BTreeSet<String> = doc.paths.paths.keys().cloned().collect();
    routes.extend(["unmatched", "/swagger-ui", "/swagger-ui/{_:.*}"].map(String::from));
    let names = ["method", "route", "status", "le", "pool", "limit", "pass", "action"];
    for sample in &scrape.samples {
        for (name, value) in &sample.labels {
            assert!(names.contains(&name.as_str()), "label {name} on {sample:?}");
            match name.as_str() {
                "route" => assert!(routes.contains(value), "route {value}"),
                "status" => assert!(value.len() == 3 && value.bytes().all(|b| b.is_ascii_digit()), "{value}"),
                "method" => assert!(
                    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"].contains(&value.as_str()),
                    "{value}"
                ),
                "le" => assert!(value == "+Inf" || value.parse::<f64>().is_ok(), "le={value}"),
                _ => assert!(
                    value.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{name}={value}"
                ),
            }
        }
    }
    assert_eq!(
        scrape.expect(REQUESTS, &request("GET", "/api/v1/tickets/{id}", "404")),
        1.0
    );
    assert_eq!(
        scrape.expect(REQUESTS, &request("GET", "/api/v1/units/{id}/tree", "404")),
        1.0
    );
}

#[actix_web::test]
async fn worker_passes_are_timed_stamped_and_counted() {
    let app = TestApp::with_demo().await;
    let metrics = MetricsListener::start(&app);
    let before = metrics.scrape().await;
    assert_eq!(
        before.value("griddesk_worker_pass_failures_total", &[("pass", "deadlines")]),
        None,
        "no worker runs yet: none of its series shows"
    );
    let resident = app.token("resident01").await;
    file(&app, &resident, "noise", "装修噪音").await;
    app.clock.advance(Duration::hours(25));

    // The worker as `serve` runs it; its first pass starts at once.
    let worker = actix_web::rt::spawn(griddesk::worker::run_forever(
        app.db.clone(),
        app.clock.clone(),
        std::time::Duration::from_secs(3600),
        griddesk::domain::sla::WarnAt::DEFAULT,
        180,
        app.metrics.clone(),
    ));
    let mut scrape = metrics.scrape().await;
    for _ in 0..100 {
        if scrape
            .value("griddesk_worker_last_pass_timestamp_seconds", &[("pass", "deadlines")])
            .is_some()
        {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        scrape = metrics.scrape().await;
    }
    worker.abort();

    scrape.expect_type("griddesk_worker_pass_duration_seconds", "histogram");
    scrape.expect_type("griddesk_worker_pass_failures_total", "counter");
    scrape.expect_type("griddesk_worker_last_pass_timestamp_seconds", "gauge");
    scrape.expect_type("griddesk_worker_deadline_actions_total", "counter");
    let now = app.clock.now().timestamp() as f64;
    for pass in ["deadlines", "prune_sessions", "prune_attempts", "prune_notifications"] {
        let label = [("pass", pass)];
        assert_eq!(
            scrape.expect("griddesk_worker_pass_duration_seconds_count", &label),
            1.0,
            "{pass}"
        );
        assert_eq!(scrape.expect("griddesk_worker_pass_failures_total", &label), 0.0);
        let stamped = scrape.expect("griddesk_worker_last_pass_timestamp_seconds", &label);
        assert!(
            (now - 60.0..=now + 1.0).contains(&stamped),
            "{pass}: {stamped} vs {now}"
        );
    }
    let action = "griddesk_worker_deadline_actions_total";
    assert_eq!(scrape.expect(action, &[("action", "escalated")]), 1.0);
    for other in ["accept_breach", "resolve_breach", "closed", "warned", "follow_up_due"] {
        assert_eq!(scrape.expect(action, &[("action", other)]), 0.0, "{other}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The real binary: metrics off by default, and with `--metrics-bind` on
/// that address only.
#[actix_web::test]
async fn the_binary_serves_metrics_only_on_the_metrics_address() {
    let db = TestDb::new();
    let bin = env!("CARGO_BIN_EXE_griddesk");
    let port = free_port();
    let metrics_port = loop {
        let other = free_port();
        if other != port {
            break other;
        }
    };
    let bind = format!("127.0.0.1:{port}");

    // The same address for both is refused at start-up.
    let same = Command::new(bin)
        .args(["--database-url", &db.url, "--bind", &bind, "--metrics-bind", &bind])
        .env_remove("GRIDDESK_JWT_SECRET")
        .output()
        .unwrap();
    assert!(!same.status.success());
    let said = String::from_utf8_lossy(&same.stderr);
    assert!(said.contains("--metrics-bind must differ from --bind"), "{said}");

    let mut child = Command::new(bin)
        .args([
            "--database-url",
            &db.url,
            "--bind",
            &bind,
            "--metrics-bind",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .env("RUST_LOG", "warn")
        .env_remove("GRIDDESK_JWT_SECRET")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .finish();
    let status = |url: String| {
        let client = client.clone();
        async move {
            match client.get(url).send().await {
                Ok(mut res) => {
                    let body = res.body().limit(16 * 1024 * 1024).await.unwrap_or_default();
                    Some((res.status().as_u16(), String::from_utf8_lossy(&body).into_owned()))
                }
                Err(_) => None,
            }
        }
    };
    let api = format!("http://{bind}");
    let scraped = format!("http://127.0.0.1:{metrics_port}");
    let mut api_health = None;
    for _ in 0..100 {
        api_health = status(format!("{api}/healthz")).await;
        if api_health.is_some() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let api_metrics = status(format!("{api}/metrics")).await;
    let listener_health = status(format!("{scraped}/healthz")).await;
    // The worker's first pass starts with the server.
    let mut text = String::new();
    for _ in 0..100 {
        if let Some((200, body)) = status(format!("{scraped}/metrics")).await
            && body.contains("griddesk_worker_last_pass_timestamp_seconds{pass=\"deadlines\"}")
        {
            text = body;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();

    assert!(!text.is_empty(), "no scrape with a worker pass within 10 s");
    let scrape = parse(text);
    assert_eq!(scrape.expect(REQUESTS, &request("GET", "/healthz", "200")), 1.0);
    assert_eq!(scrape.expect(REQUESTS, &request("GET", "unmatched", "404")), 1.0);
    assert!(scrape.expect("griddesk_db_pool_connections", &[("pool", pool_name(&db.url))]) >= 1.0);
    assert_eq!(api_metrics.map(|(s, _)| s), Some(404), "the API port has no /metrics");
    assert_eq!(api_health.map(|(s, _)| s), Some(200));
    assert_eq!(
        listener_health.map(|(s, _)| s),
        Some(404),
        "the metrics port has only /metrics"
    );
}

/// The pool's label: SQLite pools only its readers (one writer writes).
fn pool_name(url: &str) -> &'static str {
    if url.starts_with("postgres") { "main" } else { "readers" }
}
