//! The test harness: a real griddesk server on a loopback port, backed by a
//! fresh database per test (a SQLite file, or a new PostgreSQL database when
//! `GRIDDESK_TEST_DATABASE_URL` is set), and a small HTTP client.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{HttpServer, web};
use awc::http::{Method, StatusCode};
use chrono::Duration;
use diesel::{Connection, PgConnection, RunQueryDsl};
use griddesk::clock::Clock;
use griddesk::config::build_state;
use griddesk::db::Db;
use serde_json::{Value, json};

pub const PASSWORD: &str = griddesk::demo::DEMO_PASSWORD;
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A SQLite database, whatever `GRIDDESK_TEST_DATABASE_URL` says (for
    /// tests of SQLite's own configuration).
    pub fn sqlite() -> Self {
        let tag = griddesk::auth::secrets::random_token(9)
            .to_lowercase()
            .replace(['-', '_'], "x");
        let dir = std::env::temp_dir().join(format!("griddesk-test-{tag}"));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self {
            url: dir.join("griddesk.db").to_string_lossy().into_owned(),
            cleanup: Cleanup::SqliteDir(dir),
        }
    }

    pub fn new() -> Self {
        let tag = griddesk::auth::secrets::random_token(9)
            .to_lowercase()
            .replace(['-', '_'], "x");
        match std::env::var("GRIDDESK_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin_url) => {
                let name = format!("griddesk_test_{tag}");
                let mut conn = PgConnection::establish(&admin_url).expect("connect to GRIDDESK_TEST_DATABASE_URL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .expect("URL with a database name");
                Self {
                    url: format!("{base}/{name}"),
                    cleanup: Cleanup::Postgres { admin_url, name },
                }
            }
            None => {
                let dir = std::env::temp_dir().join(format!("griddesk-test-{tag}"));
                std::fs::create_dir_all(&dir).expect("create temp dir");
                Self {
                    url: dir.join("griddesk.db").to_string_lossy().into_owned(),
                    cleanup: Cleanup::SqliteDir(dir),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut conn) = PgConnection::establish(admin_url) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
                }
            }
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Res {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and returns the body, printing it on failure.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        &self.body
    }

    /// Asserts an RFC 9457 problem with this status and code.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
        assert_eq!(self.body["type"], format!("urn:griddesk:problem:{code}"));
        &self.body
    }

    /// The field names of a 422's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub struct TestApp {
    pub base: String,
    pub clock: Clock,
    pub db: Db,
    /// The server's queue of audit rows written off the request path.
    pub audit: griddesk::db::audit_queue::AuditQueue,
    /// This server's metrics (`metrics::MetricsListener` serves them).
    pub metrics: griddesk::metrics::Metrics,
    /// Shared with the replicas started by [`TestApp::replica`].
    pub database: Arc<TestDb>,
    client: awc::Client,
    server: actix_web::dev::ServerHandle,
}

impl TestApp {
    /// Starts a server on a fresh, empty database.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server whose settings `configure` adjusts first.
    pub async fn spawn_with(configure: impl FnOnce(&mut griddesk::state::AppState)) -> Self {
        Self::start(Arc::new(TestDb::new()), Clock::system(), Some(JWT_SECRET), configure).await
    }

    /// Starts a server with no JWT secret configured: it signs with the key
    /// it generates and keeps in the database, as the two-command start does.
    pub async fn spawn_with_generated_key() -> Self {
        Self::start(Arc::new(TestDb::new()), Clock::system(), None, |_| {}).await
    }

    /// A second server (another replica) on this one's database, with the
    /// same clock and the default settings.
    pub async fn replica(&self) -> Self {
        Self::start(self.database.clone(), self.clock.clone(), Some(JWT_SECRET), |_| {}).await
    }

    /// Another replica on this one's database and clock, with settings that
    /// `configure` adjusts (e.g. another time zone).
    pub async fn replica_with(&self, configure: impl FnOnce(&mut griddesk::state::AppState)) -> Self {
        Self::start(self.database.clone(), self.clock.clone(), Some(JWT_SECRET), configure).await
    }

    async fn start(
        database: Arc<TestDb>,
        clock: Clock,
        jwt_secret: Option<&str>,
        configure: impl FnOnce(&mut griddesk::state::AppState),
    ) -> Self {
        let jwt_secret = jwt_secret.map(str::to_owned);
        let url = database.url.clone();
        let state_clock = clock.clone();
        let state = web::block(move || {
            build_state(
                &url,
                jwt_secret,
                Duration::minutes(15),
                Duration::days(30),
                4,
                state_clock,
            )
        })
        .await
        .unwrap()
        .expect("build state");
        let mut state = state;
        configure(&mut state);
        let db = state.db.clone();
        let audit = state.audit.clone();
        let metrics = state.metrics.clone();
        let state = web::Data::new(state);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || griddesk::build_app(state.clone()))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let client = awc::Client::builder()
            .disable_redirects()
            .timeout(std::time::Duration::from_secs(30))
            .finish();
        Self {
            base: format!("http://127.0.0.1:{port}"),
            clock,
            db,
            audit,
            metrics,
            database,
            client,
            server: handle,
        }
    }

    /// Starts a server with the demo community loaded (units and people, no tickets).
    pub async fn with_demo() -> Self {
        let app = Self::spawn().await;
        app.load_demo().await;
        app
    }

    /// Loads the demo community (units and people, no tickets).
    /// A server with the demo community and its sample tickets.
    pub async fn with_sample_tickets() -> Self {
        let app = Self::spawn().await;
        let db = app.db.clone();
        let now = app.clock.now_naive();
        web::block(move || griddesk::demo::load(&db, now, true))
            .await
            .unwrap()
            .expect("load demo");
        app
    }

    pub async fn load_demo(&self) {
        let db = self.db.clone();
        let now = self.clock.now_naive();
        web::block(move || griddesk::demo::load(&db, now, false))
            .await
            .unwrap()
            .expect("load demo");
    }

    /// Runs `statements` on the app's database in one write transaction
    /// (a test's change of the schema, such as a trigger that refuses rows).
    pub async fn execute_sql<S: AsRef<str>>(&self, statements: &[S]) {
        let statements: Vec<String> = statements.iter().map(|s| s.as_ref().to_owned()).collect();
        let db = self.db.clone();
        web::block(move || {
            db.write_blocking(move |conn| {
                for statement in &statements {
                    diesel::sql_query(statement).execute(conn)?;
                }
                Ok(())
            })
        })
        .await
        .unwrap()
        .expect("execute SQL");
    }

    /// Makes the database refuse to insert into `table` the rows for which
    /// `condition` (SQL over `NEW`) holds, as a full disk or a broken
    /// constraint would, through a trigger called `name`; with `false`,
    /// drops the trigger again.
    pub async fn refuse_inserts(&self, name: &str, table: &str, condition: &str, refuse: bool) {
        let statements = match (self.db.backend(), refuse) {
            ("sqlite", true) => vec![format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {condition} \
                 BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )],
            ("sqlite", false) => vec![format!("DROP TRIGGER {name}")],
            (_, true) => vec![
                format!(
                    "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION 'refused'; END; $$"
                ),
                format!(
                    "CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW \
                     WHEN ({condition}) EXECUTE FUNCTION {name}()"
                ),
            ],
            (_, false) => vec![
                format!("DROP TRIGGER {name} ON {table}"),
                format!("DROP FUNCTION {name}()"),
            ],
        };
        self.execute_sql(&statements).await;
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Res {
        self.raw(
            method,
            path,
            token,
            &[],
            body.map(|b| ("application/json", b.to_string().into_bytes())),
        )
        .await
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Res {
        let method_name = method.as_str().to_owned();
        let res = self.raw_faulted(method, path, token, headers, body).await;
        problem_codes::hold_to_the_document(&method_name, path, &res);
        res
    }

    /// [`TestApp::raw`] for a test that breaks the database on purpose: the
    /// 500s it provokes are not held to the document.
    pub async fn raw_faulted(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Res {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        let mut res = match body {
            Some((content_type, bytes)) => req.insert_header(("Content-Type", content_type)).send_body(bytes).await,
            None => req.send().await,
        }
        .expect("request failed");
        let bytes = res.body().limit(16 * 1024 * 1024).await.expect("read body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Res {
            status: res.status(),
            headers: res.headers().clone(),
            text,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Res {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Res {
        self.request(Method::DELETE, path, token, None).await
    }

    /// Signs in and returns the whole token response.
    pub async fn login_tokens(&self, username: &str, password: &str) -> Value {
        let res = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": username, "password": password}),
            )
            .await;
        res.expect(200).clone()
    }

    /// Signs in with the demo password and returns the access token.
    pub async fn token(&self, username: &str) -> String {
        self.login_tokens(username, PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates a super-admin straight in the database and signs in.
    pub async fn superadmin(&self) -> String {
        let db = self.db.clone();
        let now = self.clock.now_naive();
        web::block(move || {
            let hash = griddesk::auth::password::hash(PASSWORD)?;
            db.write_blocking(move |conn| {
                griddesk::db::queries::insert_user(
                    conn,
                    &griddesk::db::models::NewUserRow::new("root", "Root", &hash, "superadmin", now),
                )
            })
        })
        .await
        .unwrap()
        .expect("create superadmin");
        self.token("root").await
    }

    /// The id of the unit with this code (signed-in listing).
    pub async fn unit_id(&self, token: &str, code: &str) -> i64 {
        let res = self
            .get(&format!("/api/v1/units?q={code}&limit=100"), Some(token))
            .await;
        let items = res.expect(200)["items"].as_array().unwrap().clone();
        items
            .iter()
            .find(|u| u["code"] == code)
            .unwrap_or_else(|| panic!("no unit {code}"))["id"]
            .as_i64()
            .unwrap()
    }

    /// The id of the user with this username, looked up by a super-admin token.
    pub async fn user_id(&self, token: &str, username: &str) -> i64 {
        let res = self
            .get(&format!("/api/v1/users?q={username}&limit=100"), Some(token))
            .await;
        let items = res.expect(200)["items"].as_array().unwrap().clone();
        items
            .iter()
            .find(|u| u["username"] == username)
            .unwrap_or_else(|| panic!("no user {username}"))["id"]
            .as_i64()
            .unwrap()
    }

    /// The id of `username`'s post at unit `unit`, as `token` lists the unit's posts.
    pub async fn post_id(&self, token: &str, unit: i64, username: &str) -> i64 {
        let res = self
            .get(&format!("/api/v1/units/{unit}/posts?limit=100"), Some(token))
            .await;
        let items = res.expect(200)["items"].as_array().unwrap().clone();
        items
            .iter()
            .find(|p| p["username"] == username)
            .unwrap_or_else(|| panic!("{username} holds no post at unit {unit}"))["id"]
            .as_i64()
            .unwrap()
    }

    /// An admin account `username` made by `creator` and posted at committee
    /// `committee` by them; answers its token.
    pub async fn new_admin(&self, creator: &str, committee: i64, username: &str, display_name: &str) -> String {
        let id = self
            .post(
                "/api/v1/users",
                Some(creator),
                json!({"username": username, "password": PASSWORD, "display_name": display_name,
                    "phone": "13700000009", "role": "admin"}),
            )
            .await
            .expect(201)["id"]
            .as_i64()
            .unwrap();
        self.post(
            &format!("/api/v1/units/{committee}/posts"),
            Some(creator),
            json!({"user_id": id}),
        )
        .await
        .expect(201);
        self.token(username).await
    }

    /// A second community (another committee) with one branch, building and
    /// household, an admin holding its committee post, and one resident.
    pub async fn second_community(&self, root: &str) -> SecondCommunity {
        let committee = self
            .post(
                "/api/v1/units",
                Some(root),
                json!({"level": "committee", "name": "湖前社区党委", "code": "HQ"}),
            )
            .await;
        let committee = committee.expect(201)["id"].as_i64().unwrap();
        let branch = self
            .post(
                "/api/v1/units",
                Some(root),
                json!({"level": "branch", "name": "湖前小区党支部", "code": "HQ-B1", "parent_id": committee}),
            )
            .await
            .expect(201)["id"]
            .as_i64()
            .unwrap();
        let building = self
            .post(
                "/api/v1/units",
                Some(root),
                json!({"level": "building", "name": "1号楼", "code": "HQ-B1-01", "parent_id": branch}),
            )
            .await
            .expect(201)["id"]
            .as_i64()
            .unwrap();
        let household = self
            .post(
                "/api/v1/units",
                Some(root),
                json!({"level": "household", "name": "党员中心户·钱家", "code": "HQ-B1-01-H1", "parent_id": building}),
            )
            .await
            .expect(201)["id"]
            .as_i64()
            .unwrap();
        let admin = self
            .post(
                "/api/v1/users",
                Some(root),
                json!({"username": "hq.admin", "password": PASSWORD, "display_name": "湖前管理员", "phone": "13900000001", "role": "admin"}),
            )
            .await
            .expect(201)["id"]
            .as_i64()
            .unwrap();
        self.post(
            &format!("/api/v1/units/{committee}/posts"),
            Some(root),
            json!({"user_id": admin}),
        )
        .await
        .expect(201);
        let resident = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": "hq.resident", "password": PASSWORD, "display_name": "钱多多", "phone": "13900000002", "building_id": building, "room": "1-101"}),
            )
            .await
            .expect(201)["id"]
            .as_i64()
            .unwrap();
        SecondCommunity {
            branch,
            household,
            admin_id: admin,
            admin: self.token("hq.admin").await,
            resident_id: resident,
        }
    }
}

pub struct SecondCommunity {
    pub branch: i64,
    pub household: i64,
    pub admin_id: i64,
    pub admin: String,
    pub resident_id: i64,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting; the pool closes with the state, then the database goes.
        drop(self.server.stop(false));
    }
}

/// Every problem any test receives must be one its operation documents: the
/// status, and the `code` among that response's enum (`openapi::finish`);
/// in a 422, every field's code among those the document lists for that
/// field (`x-field-codes`). So every test of the suite, the authorization
/// matrix first, holds the server to its document; schemathesis does the
/// same with generated input.
pub mod problem_codes {
    use std::collections::BTreeMap;
    use std::sync::OnceLock;

    use serde_json::Value;

    use super::Res;

    /// One operation of the document, as the checks need it.
    pub struct Operation {
        pub method: String,
        /// The path template split at `/`.
        pub template: Vec<String>,
        /// The problem codes per status.
        pub statuses: BTreeMap<u16, Vec<String>>,
        /// The 422's `errors[].code` enum.
        pub field_enum: Vec<String>,
        /// The 422's codes by field (`*`: any field).
        pub fields: BTreeMap<String, Vec<String>>,
    }

    fn strings(value: &Value) -> Vec<String> {
        value
            .as_array()
            .map(|codes| codes.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    fn operations() -> &'static Vec<Operation> {
        static OPERATIONS: OnceLock<Vec<Operation>> = OnceLock::new();
        OPERATIONS.get_or_init(|| {
            let doc: Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
            let mut found = Vec::new();
            for (path, item) in doc["paths"].as_object().unwrap() {
                for (method, op) in item.as_object().unwrap() {
                    let mut statuses = BTreeMap::new();
                    for (status, response) in op["responses"].as_object().into_iter().flatten() {
                        let Ok(status) = status.parse::<u16>() else { continue };
                        let schema = &response["content"]["application/problem+json"]["schema"];
                        statuses.insert(status, strings(&schema["allOf"][1]["properties"]["code"]["enum"]));
                    }
                    let invalid = &op["responses"]["422"];
                    let errors =
                        &invalid["content"]["application/problem+json"]["schema"]["allOf"][1]["properties"]["errors"];
                    let fields = invalid["x-field-codes"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(field, codes)| (field.clone(), strings(codes)))
                        .collect();
                    found.push(Operation {
                        method: method.to_uppercase(),
                        template: path.split('/').map(str::to_owned).collect(),
                        statuses,
                        field_enum: strings(&errors["items"]["allOf"][1]["properties"]["code"]["enum"]),
                        fields,
                    });
                }
            }
            found
        })
    }

    /// The operation a request reached: the template whose literal segments
    /// match most (`/units/tree` before `/units/{id}`).
    pub fn operation(method: &str, path: &str) -> Option<&'static Operation> {
        let path = path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').collect();
        operations()
            .iter()
            .filter(|op| {
                op.method == method
                    && op.template.len() == segments.len()
                    && op
                        .template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t.starts_with('{') || t == s)
            })
            .max_by_key(|op| op.template.iter().filter(|t| !t.starts_with('{')).count())
    }

    /// A field as the document lists it: any index as `[]`
    /// (`respondents[2].name` is `respondents[].name`).
    pub fn field_key(field: &str) -> String {
        let mut key = String::with_capacity(field.len());
        let mut in_index = false;
        for c in field.chars() {
            match c {
                '[' => {
                    in_index = true;
                    key.push('[');
                }
                ']' => {
                    in_index = false;
                    key.push(']');
                }
                _ if in_index => {}
                c => key.push(c),
            }
        }
        key
    }

    pub fn hold_to_the_document(method: &str, path: &str, res: &Res) {
        let is_problem = res
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/problem+json"));
        if !is_problem {
            return;
        }
        let Some(op) = operation(method, path) else {
            return; // no such operation: an unknown path, another method
        };
        let status = res.status.as_u16();
        let code = res.body["code"].as_str().unwrap_or_default();
        let operation = format!("{method} {}", op.template.join("/"));
        let Some(codes) = op.statuses.get(&status) else {
            panic!("{operation} answered {status} `{code}`, a status its document does not list");
        };
        assert!(
            codes.iter().any(|c| c == code),
            "{operation} answered {status} `{code}`, which its document does not list (it lists {codes:?}); \
             declare it with `extensions((\"x-problem-codes\" = json!({{\"{status}\": [\"{code}\"]}})))`"
        );
        if status != 422 {
            return;
        }
        let errors = res.body["errors"].as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(
            !errors.is_empty(),
            "{operation} answered 422 without `errors`: {}",
            res.text
        );
        for error in errors {
            let field = error["field"].as_str().unwrap_or_default();
            let field_code = error["code"].as_str().unwrap_or_default();
            let key = field_key(field);
            let listed = |f: &str| op.fields.get(f).is_some_and(|c| c.iter().any(|c| c == field_code));
            assert!(
                op.field_enum.iter().any(|c| c == field_code) && (listed(&key) || listed("*")),
                "{operation} answered 422 with `{field_code}` for `{field}`, which its document does not list for \
                 that field (it lists {:?}); declare it next to the operation's responses with \
                 `extensions((\"x-field-codes\" = json!({{\"{key}\": [\"{field_code}\"]}})))`, or, when a \
                 shared extractor answers it, in `api::openapi::codes::field_codes`",
                op.fields
            );
        }
    }
}
