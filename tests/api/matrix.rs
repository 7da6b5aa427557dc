//! The authorization matrix: every operation of the OpenAPI document against
//! every kind of caller, each cell an expected status, checked against the
//! real app. Objects belong to `resident01` of the Junmen demo community
//! (household JM-B1-01-H1 in building JM-B1-01 of branch JM-B1). An operation
//! the matrix does not cover fails the test.

use std::collections::BTreeSet;

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::{PASSWORD, Res, TestApp};

/// The callers, in the order of every row's expected statuses.
pub(crate) const CALLERS: [&str; 9] = [
    "anonymous",
    "resident01 (owner)",
    "resident02 (same building)",
    "jm.b1.bldg1.h1 (household)",
    "jm.b1.bldg1 (building)",
    "jm.branch1 (branch)",
    "jm.committee (committee)",
    "hq.admin (another community)",
    "super-admin",
];
pub(crate) const USERNAMES: [Option<&str>; 9] = [
    None,
    Some("resident01"),
    Some("resident02"),
    Some("jm.b1.bldg1.h1"),
    Some("jm.b1.bldg1"),
    Some("jm.branch1"),
    Some("jm.committee"),
    Some("hq.admin"),
    Some("root"),
];

/// Each operation and what each caller gets. Sign-out and password changes
/// end sessions, so they come last.
const MATRIX: &[(&str, [u16; 9])] = &[
    ("GET /healthz", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /readyz", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    (
        "POST /api/v1/auth/register",
        [201, 201, 201, 201, 201, 201, 201, 201, 201],
    ),
    ("POST /api/v1/auth/login", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/v1/auth/token", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    (
        "POST /api/v1/auth/refresh",
        [200, 200, 200, 200, 200, 200, 200, 200, 200],
    ),
    ("GET /api/v1/me", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    (
        "GET /api/v1/notifications",
        [401, 200, 200, 200, 200, 200, 200, 200, 200],
    ),
    (
        "GET /api/v1/notifications/stream",
        [401, 200, 200, 200, 200, 200, 200, 200, 200],
    ),
    (
        "GET /api/v1/notifications/unread-count",
        [401, 200, 200, 200, 200, 200, 200, 200, 200],
    ),
    (
        "POST /api/v1/notifications/read",
        [401, 200, 200, 200, 200, 200, 200, 200, 200],
    ),
    ("PATCH /api/v1/me", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/units", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/v1/units", [401, 403, 403, 403, 403, 403, 403, 403, 201]),
    ("GET /api/v1/units/{id}", [404, 200, 200, 200, 200, 200, 200, 404, 200]),
    (
        "PATCH /api/v1/units/{id}",
        [401, 403, 403, 403, 403, 403, 403, 404, 200],
    ),
    (
        "DELETE /api/v1/units/{id}",
        [401, 403, 403, 403, 403, 403, 403, 404, 204],
    ),
    (
        "GET /api/v1/units/{id}/tree",
        [404, 200, 200, 200, 200, 200, 200, 404, 200],
    ),
    (
        "GET /api/v1/units/{id}/posts",
        [401, 404, 404, 200, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/units/{id}/posts",
        [401, 403, 403, 403, 403, 403, 403, 404, 201],
    ),
    (
        "DELETE /api/v1/posts/{id}",
        [401, 404, 404, 404, 403, 403, 403, 404, 204],
    ),
    ("GET /api/v1/users", [401, 403, 403, 200, 200, 200, 200, 200, 200]),
    ("POST /api/v1/users", [401, 403, 403, 403, 403, 403, 403, 201, 201]),
    ("GET /api/v1/users/{id}", [401, 200, 404, 200, 200, 200, 200, 404, 200]),
    (
        "PATCH /api/v1/users/{id}",
        [401, 403, 404, 403, 403, 200, 200, 404, 200],
    ),
    ("GET /api/v1/categories", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/v1/categories", [401, 403, 403, 403, 403, 403, 403, 403, 201]),
    (
        "PATCH /api/v1/categories/{id}",
        [401, 403, 403, 403, 403, 403, 403, 403, 200],
    ),
    (
        "GET /api/v1/sla-policies",
        [401, 200, 200, 200, 200, 200, 200, 200, 200],
    ),
    (
        "PUT /api/v1/sla-policies",
        [401, 403, 403, 403, 403, 403, 403, 403, 200],
    ),
    ("POST /api/v1/complaints", [401, 201, 201, 422, 422, 422, 422, 422, 422]),
    ("POST /api/v1/disputes", [401, 201, 201, 422, 422, 422, 422, 422, 422]),
    ("GET /api/v1/tickets", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    (
        "GET /api/v1/tickets/export",
        [401, 200, 200, 200, 200, 200, 200, 200, 200],
    ),
    ("GET /api/v1/complaints", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/disputes", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    (
        "GET /api/v1/tickets/{id}",
        [401, 200, 404, 200, 200, 200, 200, 404, 200],
    ),
    (
        "GET /api/v1/tickets/{id}/events",
        [401, 200, 404, 200, 200, 200, 200, 404, 200],
    ),
    (
        "GET /api/v1/tickets/{id}/comments",
        [401, 200, 404, 200, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/tickets/{id}/comments",
        [401, 201, 404, 201, 201, 201, 201, 404, 201],
    ),
    (
        "POST /api/v1/tickets/{id}/accept",
        [401, 403, 404, 200, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/tickets/{id}/resolve",
        [401, 403, 404, 200, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/tickets/{id}/escalate",
        [401, 403, 404, 200, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/tickets/{id}/dispatch",
        [401, 403, 404, 404, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/tickets/{id}/return",
        [401, 403, 404, 403, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/tickets/{id}/reopen",
        [401, 200, 404, 403, 403, 403, 403, 404, 403],
    ),
    (
        "POST /api/v1/tickets/{id}/close",
        [401, 200, 404, 403, 403, 403, 403, 404, 403],
    ),
    (
        "POST /api/v1/tickets/{id}/withdraw",
        [401, 200, 404, 403, 403, 403, 403, 404, 403],
    ),
    (
        "POST /api/v1/tickets/{id}/reject",
        [401, 403, 404, 200, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/tickets/{id}/refer",
        [401, 403, 404, 404, 404, 404, 200, 404, 200],
    ),
    (
        "POST /api/v1/tickets/{id}/merge",
        [401, 403, 404, 200, 200, 200, 200, 404, 200],
    ),
    (
        "GET /api/v1/tickets/{id}/extension-requests",
        [401, 200, 404, 200, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/tickets/{id}/extension-requests",
        [401, 403, 404, 201, 201, 201, 201, 404, 201],
    ),
    (
        "POST /api/v1/extension-requests/{id}/approve",
        [401, 403, 404, 403, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/extension-requests/{id}/deny",
        [401, 403, 404, 403, 200, 200, 200, 404, 200],
    ),
    (
        "GET /api/v1/disputes/{id}/parties",
        [401, 200, 404, 404, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/disputes/{id}/parties",
        [401, 403, 404, 404, 201, 201, 201, 404, 201],
    ),
    (
        "GET /api/v1/disputes/{id}/mediations",
        [401, 200, 404, 404, 200, 200, 200, 404, 200],
    ),
    (
        "POST /api/v1/disputes/{id}/mediations",
        [401, 403, 404, 404, 201, 201, 201, 404, 201],
    ),
    (
        "GET /api/v1/disputes/{id}/agreement",
        [401, 200, 404, 404, 200, 200, 200, 404, 200],
    ),
    (
        "PUT /api/v1/disputes/{id}/agreement",
        [401, 403, 404, 404, 201, 201, 201, 404, 201],
    ),
    ("GET /api/v1/follow-ups", [401, 403, 403, 200, 200, 200, 200, 200, 200]),
    (
        "POST /api/v1/follow-ups/{id}/record",
        [401, 403, 404, 404, 200, 200, 200, 404, 200],
    ),
    ("GET /api/v1/stats", [401, 404, 404, 404, 404, 404, 200, 404, 200]),
    ("GET /api/v1/stats/units", [401, 404, 404, 404, 404, 404, 200, 404, 200]),
    ("GET /api/v1/audit", [401, 403, 403, 403, 403, 403, 403, 200, 200]),
    ("POST /api/v1/me/devices", [401, 201, 201, 201, 201, 201, 201, 201, 201]),
    ("GET /api/v1/me/devices", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    (
        "DELETE /api/v1/me/devices",
        [401, 204, 204, 204, 204, 204, 204, 204, 204],
    ),
    ("POST /api/v1/webhooks", [401, 403, 403, 403, 403, 403, 403, 422, 201]),
    ("GET /api/v1/webhooks", [401, 403, 403, 403, 403, 403, 403, 200, 200]),
    (
        "GET /api/v1/webhooks/{id}",
        [401, 403, 403, 403, 403, 403, 403, 404, 200],
    ),
    (
        "PATCH /api/v1/webhooks/{id}",
        [401, 403, 403, 403, 403, 403, 403, 404, 200],
    ),
    (
        "DELETE /api/v1/webhooks/{id}",
        [401, 403, 403, 403, 403, 403, 403, 404, 204],
    ),
    (
        "GET /api/v1/webhooks/{id}/deliveries",
        [401, 403, 403, 403, 403, 403, 403, 404, 200],
    ),
    (
        "POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
        [401, 403, 403, 403, 403, 403, 403, 404, 202],
    ),
    (
        "POST /api/v1/auth/logout",
        [401, 204, 204, 204, 204, 204, 204, 204, 204],
    ),
    (
        "POST /api/v1/me/password",
        [401, 204, 204, 204, 204, 204, 204, 204, 204],
    ),
];

struct Fixture {
    app: TestApp,
    tokens: Vec<Option<String>>,
    /// jm.admin: sets things up, not a caller of the matrix.
    admin: String,
    root: String,
    resident01: i64,
    resident03: i64,
    mediator: i64,
    household: i64,
    household2: i64,
    building: i64,
    committee: i64,
    /// A complaint at the household that every row may read.
    shared: i64,
    /// A dispute at the building, with an agreement, still open.
    dispute: i64,
    /// jm.admin's webhook endpoint for 军门社区, and one of its deliveries.
    webhook: i64,
    delivery: i64,
    serial: std::cell::Cell<u32>,
}

impl Fixture {
    async fn new() -> Self {
        // A notification stream answers 200 and then stays open until it
        // has been idle this long.
        let app = TestApp::spawn_with(|state| {
            state.streams.idle = std::time::Duration::from_millis(200);
            state.streams.heartbeat = std::time::Duration::from_millis(100);
            state.streams.poll = std::time::Duration::from_millis(50);
        })
        .await;
        app.load_demo().await;
        let root = app.superadmin().await;
        app.second_community(&root).await;
        let admin = app.token("jm.admin").await;
        let mut tokens = Vec::new();
        for name in USERNAMES {
            tokens.push(match name {
                None => None,
                Some("root") => Some(root.clone()),
                Some(name) => Some(app.token(name).await),
            });
        }
        let unit = |code: &'static str| {
            let (app, admin) = (&app, &admin);
            async move { app.unit_id(admin, code).await }
        };
        let (household, household2, building, committee) = (
            unit("JM-B1-01-H1").await,
            unit("JM-B1-01-H2").await,
            unit("JM-B1-01").await,
            unit("JM").await,
        );
        let resident01 = app.user_id(&admin, "resident01").await;
        let resident03 = app.user_id(&admin, "resident03").await;
        let mediator = app.user_id(&admin, "jm.committee").await;
        let mut f = Self {
            app,
            tokens,
            admin,
            root,
            resident01,
            resident03,
            mediator,
            household,
            household2,
            building,
            committee,
            shared: 0,
            dispute: 0,
            webhook: 0,
            delivery: 0,
            serial: std::cell::Cell::new(0),
        };
        f.webhook = f.webhook().await;
        f.shared = f.complaint("noise").await;
        let deliveries = f
            .send(
                Method::GET,
                &format!("/api/v1/webhooks/{}/deliveries", f.webhook),
                &f.admin,
                None,
                200,
            )
            .await;
        f.delivery = deliveries["items"][0]["id"].as_i64().unwrap();
        f.dispute = f.dispute().await;
        f.put(&format!("/api/v1/disputes/{}/agreement", f.dispute), f.agreement(), 201)
            .await;
        f
    }

    fn next(&self) -> u32 {
        self.serial.set(self.serial.get() + 1);
        self.serial.get()
    }

    async fn send(&self, method: Method, path: &str, token: &str, body: Option<Value>, expect: u16) -> Value {
        let res = self.app.request(method.clone(), path, Some(token), body).await;
        assert_eq!(res.status.as_u16(), expect, "setup {method} {path}: {}", res.text);
        res.body
    }

    async fn post(&self, path: &str, body: Value, expect: u16) -> Value {
        self.send(Method::POST, path, &self.admin, Some(body), expect).await
    }

    async fn put(&self, path: &str, body: Value, expect: u16) -> Value {
        let token = self.app.token("jm.b1.bldg1").await;
        self.send(Method::PUT, path, &token, Some(body), expect).await
    }

    /// A complaint filed (by the admin) for resident01.
    async fn complaint(&self, category: &str) -> i64 {
        let body = json!({"category": category, "title": "楼道噪音", "description": "夜间噪音扰民。",
            "on_behalf_of": self.resident01});
        self.post("/api/v1/complaints", body, 201).await["id"].as_i64().unwrap()
    }

    /// A dispute of resident01 against resident03, at the building.
    async fn dispute(&self) -> i64 {
        let body = json!({"category": "neighbour_dispute", "title": "漏水纠纷", "description": "协商未果。",
            "on_behalf_of": self.resident01, "respondents": [{"user_id": self.resident03}]});
        self.post("/api/v1/disputes", body, 201).await["id"].as_i64().unwrap()
    }

    /// A webhook endpoint of 军门社区, registered by its admin.
    async fn webhook(&self) -> i64 {
        let n = self.next();
        let body = json!({"community_id": self.committee, "url": format!("https://hooks.example.com/{n}")});
        self.post("/api/v1/webhooks", body, 201).await["id"].as_i64().unwrap()
    }

    fn agreement(&self) -> Value {
        let deadline = (self.app.clock.now() + chrono::Duration::days(20)).to_rfc3339();
        json!({"terms": "修复防水层。", "performance_deadline": deadline})
    }

    async fn act(&self, id: i64, action: &str, body: Value) {
        let path = format!("/api/v1/tickets/{id}/{action}");
        self.post(&path, body, 200).await;
    }

    async fn resolved_complaint(&self) -> i64 {
        let id = self.complaint("noise").await;
        self.act(id, "accept", json!({})).await;
        self.act(id, "resolve", json!({"note": "已处理"})).await;
        id
    }

    async fn fresh_household(&self) -> i64 {
        let n = self.next();
        let body = json!({"level": "household", "name": format!("党员中心户·{n}"), "code": format!("MX-{n}"),
            "parent_id": self.building});
        self.post("/api/v1/units", body, 201).await["id"].as_i64().unwrap()
    }

    /// The request a row sends as caller `who` (index into `CALLERS`).
    async fn request(&self, op: &str, who: usize) -> (Method, String, Option<Value>, Option<String>) {
        let (method, path) = op.split_once(' ').unwrap();
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let n = self.next();
        let mut token = self.tokens[who].clone();
        let (path, body) = match op {
            "POST /api/v1/auth/register" => (
                path.to_owned(),
                Some(
                    json!({"username": format!("newcomer{n}"), "password": "a-long-password", "display_name": "新居民",
                    "phone": "13700001111", "building_id": self.building, "room": format!("9-{n}")}),
                ),
            ),
            "POST /api/v1/auth/login" => (
                path.to_owned(),
                Some(json!({"username": "resident01", "password": PASSWORD})),
            ),
            "POST /api/v1/auth/refresh" => {
                let fresh = self.app.login_tokens("resident02", PASSWORD).await;
                (path.to_owned(), Some(json!({"refresh_token": fresh["refresh_token"]})))
            }
            // A form, not JSON: see `send_as_client`.
            "POST /api/v1/auth/token" => (
                path.to_owned(),
                Some(Value::String(
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs([
                            ("grant_type", "password"),
                            ("username", "resident01"),
                            ("password", PASSWORD),
                        ])
                        .finish(),
                )),
            ),
            "POST /api/v1/auth/logout" | "POST /api/v1/me/password" => {
                // A session of its own, so the caller's main one survives.
                if let Some(name) = USERNAMES[who] {
                    token = Some(self.app.token(name).await);
                }
                let body = op
                    .ends_with("password")
                    .then(|| json!({"current_password": PASSWORD, "new_password": "another-long-password"}));
                (path.to_owned(), body)
            }
            "PATCH /api/v1/me" => (path.to_owned(), Some(json!({"display_name": format!("改名{n}")}))),
            "POST /api/v1/notifications/read" => (path.to_owned(), Some(json!({"up_to": i64::MAX}))),
            "POST /api/v1/units" => (
                path.to_owned(),
                Some(
                    json!({"level": "household", "name": format!("新中心户{n}"), "code": format!("NEW-{n}"),
                    "parent_id": self.building}),
                ),
            ),
            "GET /api/v1/units/{id}" | "GET /api/v1/units/{id}/tree" | "GET /api/v1/units/{id}/posts" => {
                (path.replace("{id}", &self.household.to_string()), None)
            }
            "PATCH /api/v1/units/{id}" => (
                path.replace("{id}", &self.household2.to_string()),
                Some(json!({"name": format!("党员中心户·改{n}")})),
            ),
            "DELETE /api/v1/units/{id}" => (path.replace("{id}", &self.fresh_household().await.to_string()), None),
            "POST /api/v1/units/{id}/posts" => {
                let unit = self.fresh_household().await;
                let staff = self.app.user_id(&self.admin, "jm.b1.bldg1.h2").await;
                (path.replace("{id}", &unit.to_string()), Some(json!({"user_id": staff})))
            }
            "DELETE /api/v1/posts/{id}" => {
                let unit = self.fresh_household().await;
                let staff = self.app.user_id(&self.admin, "jm.b1.bldg1.h2").await;
                let post = self
                    .post(&format!("/api/v1/units/{unit}/posts"), json!({"user_id": staff}), 201)
                    .await;
                (path.replace("{id}", &post["id"].to_string()), None)
            }
            "GET /api/v1/users/{id}" => (path.replace("{id}", &self.resident01.to_string()), None),
            "PATCH /api/v1/users/{id}" => (
                path.replace("{id}", &self.resident01.to_string()),
                Some(json!({"household_id": self.household})),
            ),
            "POST /api/v1/users" => (
                path.to_owned(),
                Some(
                    json!({"username": format!("staff{n}"), "password": "a-long-password", "display_name": "新网格员",
                    "phone": "13700002222", "role": "staff"}),
                ),
            ),
            "POST /api/v1/categories" => (
                path.to_owned(),
                Some(
                    json!({"code": format!("cat_{n}"), "name_zh": "新类别", "name_en": "New", "kind": "complaint",
                    "entry_level": "building", "accept_hours": 24, "resolve_hours": 72}),
                ),
            ),
            "PATCH /api/v1/categories/{id}" => (path.replace("{id}", "1"), Some(json!({"accept_hours": 24}))),
            "PUT /api/v1/sla-policies" => {
                let current = self
                    .send(Method::GET, "/api/v1/sla-policies", &self.root, None, 200)
                    .await;
                (path.to_owned(), Some(current))
            }
            "POST /api/v1/complaints" => (
                path.to_owned(),
                Some(json!({"category": "noise", "title": "噪音", "description": "夜间噪音。"})),
            ),
            "POST /api/v1/disputes" => (
                path.to_owned(),
                Some(
                    json!({"category": "neighbour_dispute", "title": "纠纷", "description": "协商未果。",
                    "respondents": [{"name": "李先生"}]}),
                ),
            ),
            "GET /api/v1/tickets/{id}"
            | "GET /api/v1/tickets/{id}/events"
            | "GET /api/v1/tickets/{id}/comments"
            | "GET /api/v1/tickets/{id}/extension-requests" => (path.replace("{id}", &self.shared.to_string()), None),
            "POST /api/v1/tickets/{id}/comments" => (
                path.replace("{id}", &self.shared.to_string()),
                Some(json!({"body": "请尽快处理。"})),
            ),
            "POST /api/v1/tickets/{id}/accept"
            | "POST /api/v1/tickets/{id}/escalate"
            | "POST /api/v1/tickets/{id}/reject"
            | "POST /api/v1/tickets/{id}/withdraw"
            | "POST /api/v1/tickets/{id}/merge"
            | "POST /api/v1/tickets/{id}/extension-requests" => {
                let id = self.complaint("noise").await;
                let body = match op.rsplit('/').next().unwrap() {
                    "merge" => json!({"into_ticket_id": self.shared}),
                    "extension-requests" => json!({"hours": 24, "reason": "等待配件。"}),
                    "accept" => json!({}),
                    _ => json!({"reason": "理由"}),
                };
                (path.replace("{id}", &id.to_string()), Some(body))
            }
            "POST /api/v1/tickets/{id}/resolve" => {
                let id = self.complaint("noise").await;
                self.act(id, "accept", json!({})).await;
                (path.replace("{id}", &id.to_string()), Some(json!({"note": "已处理"})))
            }
            "POST /api/v1/tickets/{id}/dispatch" => {
                let id = self.complaint("leak").await;
                (
                    path.replace("{id}", &id.to_string()),
                    Some(json!({"unit_id": self.household})),
                )
            }
            "POST /api/v1/tickets/{id}/return" => {
                let id = self.complaint("noise").await;
                self.act(id, "escalate", json!({"reason": "需楼栋协调"})).await;
                (
                    path.replace("{id}", &id.to_string()),
                    Some(json!({"reason": "请中心户处理"})),
                )
            }
            "POST /api/v1/tickets/{id}/reopen" | "POST /api/v1/tickets/{id}/close" => {
                let id = self.resolved_complaint().await;
                let body = if op.ends_with("close") {
                    json!({"rating": 5})
                } else {
                    json!({"reason": "没有解决"})
                };
                (path.replace("{id}", &id.to_string()), Some(body))
            }
            "POST /api/v1/tickets/{id}/refer" => {
                let id = self.complaint("safety_hazard").await;
                (path.replace("{id}", &id.to_string()), Some(json!({"target": "12345"})))
            }
            "POST /api/v1/extension-requests/{id}/approve" | "POST /api/v1/extension-requests/{id}/deny" => {
                let id = self.complaint("noise").await;
                let asker = self.app.token("jm.b1.bldg1.h1").await;
                let request = self
                    .send(
                        Method::POST,
                        &format!("/api/v1/tickets/{id}/extension-requests"),
                        &asker,
                        Some(json!({"hours": 24, "reason": "等待配件。"})),
                        201,
                    )
                    .await;
                (path.replace("{id}", &request["id"].to_string()), Some(json!({})))
            }
            "GET /api/v1/disputes/{id}/parties"
            | "GET /api/v1/disputes/{id}/mediations"
            | "GET /api/v1/disputes/{id}/agreement" => (path.replace("{id}", &self.dispute.to_string()), None),
            "POST /api/v1/disputes/{id}/parties" => (
                path.replace("{id}", &self.dispute.to_string()),
                Some(json!({"role": "respondent", "name": format!("外来方{n}")})),
            ),
            "POST /api/v1/disputes/{id}/mediations" => (
                path.replace("{id}", &self.dispute.to_string()),
                Some(
                    json!({"held_at": self.app.clock.now().to_rfc3339(), "mediator_id": self.mediator,
                    "summary": "双方到场。"}),
                ),
            ),
            "PUT /api/v1/disputes/{id}/agreement" => {
                let id = self.dispute().await;
                (path.replace("{id}", &id.to_string()), Some(self.agreement()))
            }
            "POST /api/v1/follow-ups/{id}/record" => {
                let id = self.dispute().await;
                let agreed = self
                    .put(&format!("/api/v1/disputes/{id}/agreement"), self.agreement(), 201)
                    .await;
                let leader = self.app.token("jm.b1.bldg1").await;
                for (action, body) in [("accept", json!({})), ("resolve", json!({"note": "调解成功"}))] {
                    self.send(
                        Method::POST,
                        &format!("/api/v1/tickets/{id}/{action}"),
                        &leader,
                        Some(body),
                        200,
                    )
                    .await;
                }
                let follow_up = agreed["follow_ups"][0]["id"].to_string();
                (path.replace("{id}", &follow_up), Some(json!({"result": "fulfilled"})))
            }
            "POST /api/v1/me/devices" | "DELETE /api/v1/me/devices" => {
                // Each caller registers (and forgets) a token of their own.
                let body = json!({"platform": "fcm", "token": format!("matrix-token-{who}")});
                (path.to_owned(), Some(body))
            }
            "POST /api/v1/webhooks" => (
                path.to_owned(),
                Some(json!({"community_id": self.committee, "url": format!("https://hooks.example.com/m{n}")})),
            ),
            "GET /api/v1/webhooks/{id}" | "GET /api/v1/webhooks/{id}/deliveries" => {
                (path.replace("{id}", &self.webhook.to_string()), None)
            }
            "PATCH /api/v1/webhooks/{id}" => (
                path.replace("{id}", &self.webhook.to_string()),
                Some(json!({"description": format!("改{n}")})),
            ),
            "DELETE /api/v1/webhooks/{id}" => (path.replace("{id}", &self.webhook().await.to_string()), None),
            "POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver" => (
                path.replace("{id}", &self.webhook.to_string())
                    .replace("{delivery_id}", &self.delivery.to_string()),
                None,
            ),
            "GET /api/v1/stats" => (format!("{path}?unit_id={}", self.committee), None),
            "GET /api/v1/stats/units" => (format!("{path}?parent_id={}", self.committee), None),
            _ => (path.to_owned(), None),
        };
        (method, path, body, token)
    }
}

/// Sends a row's request: a JSON body, or a string as a form (the OAuth 2.0
/// token endpoint's).
async fn send_as_client(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Res {
    match body {
        Some(Value::String(form)) => {
            let body = ("application/x-www-form-urlencoded", form.into_bytes());
            app.raw(method, path, token, &[], Some(body)).await
        }
        body => app.request(method, path, token, body).await,
    }
}

#[actix_web::test]
async fn every_operation_answers_every_caller_as_the_matrix_says() {
    let f = Fixture::new().await;

    // The matrix covers the document exactly.
    let doc: Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let covered: BTreeSet<String> = MATRIX.iter().map(|(op, _)| (*op).to_owned()).collect();
    assert_eq!(covered.len(), MATRIX.len(), "an operation is listed twice");
    let missing: Vec<&String> = documented.difference(&covered).collect();
    let stale: Vec<&String> = covered.difference(&documented).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "not in the matrix: {missing:?}; not in the document: {stale:?}"
    );

    let mut wrong = Vec::new();
    let mut cells = 0;
    for (op, expected) in MATRIX {
        for (who, want) in expected.iter().enumerate() {
            let (method, path, body, token) = f.request(op, who).await;
            let res = send_as_client(&f.app, method, &path, token.as_deref(), body).await;
            cells += 1;
            if res.status.as_u16() != *want {
                wrong.push(format!(
                    "{op} as {}: {} (expected {want}) {}",
                    CALLERS[who],
                    res.status.as_u16(),
                    res.body["code"]
                ));
            }
        }
    }
    eprintln!(
        "authorization matrix: {} operations x {} callers = {cells} cells",
        MATRIX.len(),
        CALLERS.len()
    );
    assert!(wrong.is_empty(), "{} cells differ:\n{}", wrong.len(), wrong.join("\n"));
}

#[actix_web::test]
async fn fields_that_do_not_belong_in_a_body_are_refused_not_assigned() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let me = app.user_id(&admin, "resident01").await;
    let ticket = crate::tickets::file(&app, &resident, "noise", "噪音").await;
    let id = ticket["id"].as_i64().unwrap();
    let building = app.unit_id(&admin, "JM-B1-01").await;
    let cases: Vec<(Method, String, &str, Value, &str)> = vec![
        (
            Method::PATCH,
            "/api/v1/me".into(),
            "resident",
            json!({"role": "admin"}),
            "role",
        ),
        (
            Method::PATCH,
            "/api/v1/me".into(),
            "resident",
            json!({"active": false}),
            "active",
        ),
        (
            Method::POST,
            "/api/v1/auth/register".into(),
            "anonymous",
            json!({"username": "sneaky", "password": "a-long-password", "display_name": "某人", "phone": "13700003333",
                "building_id": building, "room": "1-1", "role": "superadmin"}),
            "role",
        ),
        (
            Method::POST,
            "/api/v1/complaints".into(),
            "resident",
            json!({"category": "noise", "title": "噪音", "description": "噪音。", "status": "closed"}),
            "status",
        ),
        (
            Method::POST,
            "/api/v1/complaints".into(),
            "resident",
            json!({"category": "noise", "title": "噪音", "description": "噪音。", "reporter_id": 1}),
            "reporter_id",
        ),
        (
            Method::POST,
            "/api/v1/complaints".into(),
            "resident",
            json!({"category": "noise", "title": "噪音", "description": "噪音。", "current_unit_id": building}),
            "current_unit_id",
        ),
        (
            Method::POST,
            format!("/api/v1/tickets/{id}/comments"),
            "resident",
            json!({"body": "催办", "version": 9}),
            "version",
        ),
        (
            Method::POST,
            format!("/api/v1/tickets/{id}/withdraw"),
            "resident",
            json!({"reason": "不需要了", "status": "closed"}),
            "status",
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{me}"),
            "admin",
            json!({"role": "admin"}),
            "role",
        ),
        (
            Method::PATCH,
            format!("/api/v1/units/{building}"),
            "admin",
            json!({"path": "/1/"}),
            "path",
        ),
    ];
    for (method, path, who, body, field) in cases {
        let token = match who {
            "resident" => Some(resident.as_str()),
            "admin" => Some(admin.as_str()),
            _ => None,
        };
        let res = app.request(method.clone(), &path, token, Some(body)).await;
        res.expect_problem(422, "validation_failed");
        assert_eq!(res.error_fields(), [field], "{method} {path}");
    }
    // Nothing was assigned: the resident is still a resident, the ticket still theirs and open.
    let mine = app.get("/api/v1/me", Some(&resident)).await.expect(200).clone();
    assert_eq!(mine["role"], "resident");
    let t = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&resident))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (t["status"].as_str(), t["version"].as_i64()),
        (Some("assigned"), Some(1))
    );
}

/// What each caller learns, for the rules a status code alone cannot show:
/// anonymity (where a caller may not see the reporter, nothing they are
/// answered names them) and the walls between communities. Cells are the
/// outcome a row's [`sight`] reads from the answer: `named`/`hidden` (does
/// the answer carry the reporter's name?), `listed`/`absent` (is the ticket
/// in the list?), or the status with the fields a 422 names.
const SIGHT: &[(&str, [&str; 9])] = &[
    (
        "anonymous complaint: GET /tickets/{id}",
        [
            "401", "named", "404", "hidden", "hidden", "named", "named", "404", "named",
        ],
    ),
    (
        "anonymous complaint: GET /tickets?reporter_id=<reporter>",
        [
            "401", "listed", "absent", "absent", "absent", "listed", "listed", "absent", "listed",
        ],
    ),
    (
        "anonymous complaint: GET /tickets/export (its line)",
        [
            "401", "named", "absent", "hidden", "hidden", "named", "named", "absent", "named",
        ],
    ),
    (
        "anonymous complaint: GET /tickets/export?reporter_id=<reporter>",
        [
            "401", "listed", "absent", "absent", "absent", "listed", "listed", "absent", "listed",
        ],
    ),
    (
        "anonymous, filed by staff on behalf: GET /tickets/export (its line)",
        [
            "401", "named", "absent", "hidden", "hidden", "named", "named", "absent", "named",
        ],
    ),
    (
        "anonymous complaint: GET /tickets/{id}/comments (the reporter commented)",
        [
            "401", "named", "404", "hidden", "hidden", "named", "named", "404", "named",
        ],
    ),
    (
        "anonymous complaint: GET /tickets/{id}/events (the reporter commented and withdrew)",
        [
            "401", "named", "404", "hidden", "hidden", "named", "named", "404", "named",
        ],
    ),
    (
        "anonymous, filed by staff on behalf: GET /tickets/{id}/events",
        [
            "401", "named", "404", "hidden", "hidden", "named", "named", "404", "named",
        ],
    ),
    (
        "anonymous, filed by staff on behalf: GET /tickets/{id}",
        [
            "401", "named", "404", "hidden", "hidden", "named", "named", "404", "named",
        ],
    ),
    (
        "POST /disputes naming a resident of another community",
        [
            "401",
            "422 respondents[0].user_id",
            "422 respondents[0].user_id",
            "422 on_behalf_of",
            "422 respondents[0].user_id",
            "422 respondents[0].user_id",
            "422 respondents[0].user_id",
            "422 on_behalf_of",
            "422 respondents[0].user_id",
        ],
    ),
    (
        "POST /disputes/{id}/parties adding a resident of another community",
        [
            "401",
            "403",
            "404",
            "404",
            "422 user_id",
            "422 user_id",
            "422 user_id",
            "404",
            "422 user_id",
        ],
    ),
    (
        "PATCH /users/{id} renaming staff who serve both communities",
        ["401", "404", "404", "404", "403", "403", "403", "403", "200"],
    ),
    (
        "GET /audit: a second-community admin reads what was done to their unit",
        ["401", "403", "403", "403", "403", "403", "403", "listed", "listed"],
    ),
];

/// The objects [`SIGHT`] asks about.
struct SightFixture {
    f: Fixture,
    reporter_name: String,
    /// Filed anonymously by resident01, commented on and withdrawn by them.
    anonymous: i64,
    /// Filed anonymously for resident01 by jm.admin.
    on_behalf: i64,
    /// A resident of the second community.
    outsider: i64,
    /// Staff with a post in each community.
    both: i64,
    /// A unit of the second community that the super-admin renamed.
    renamed: i64,
}

impl SightFixture {
    async fn new() -> Self {
        let f = Fixture::new().await;
        let reporter = f.tokens[1].clone().unwrap();
        let body = json!({"category": "noise", "title": "匿名反映噪音", "description": "不便透露姓名。",
            "anonymous": true});
        let anonymous = f
            .send(Method::POST, "/api/v1/complaints", &reporter, Some(body), 201)
            .await["id"]
            .as_i64()
            .unwrap();
        f.send(
            Method::POST,
            &format!("/api/v1/tickets/{anonymous}/comments"),
            &reporter,
            Some(json!({"body": "请尽快处理，谢谢。"})),
            201,
        )
        .await;
        f.send(
            Method::POST,
            &format!("/api/v1/tickets/{anonymous}/withdraw"),
            &reporter,
            Some(json!({"reason": "已和邻居谈妥"})),
            200,
        )
        .await;
        let body = json!({"category": "noise", "title": "代为反映噪音", "description": "居民来电，要求匿名。",
            "on_behalf_of": f.resident01, "anonymous": true});
        let on_behalf = f.post("/api/v1/complaints", body, 201).await["id"].as_i64().unwrap();
        let reporter_name = f.send(Method::GET, "/api/v1/me", &reporter, None, 200).await["display_name"]
            .as_str()
            .unwrap()
            .to_owned();
        let outsider = f.app.user_id(&f.root, "hq.resident").await;
        let both = f
            .send(
                Method::POST,
                "/api/v1/users",
                &f.root,
                Some(
                    json!({"username": "both.staff", "password": "a-long-password", "display_name": "两社区网格员",
                    "phone": "13700004444", "role": "staff"}),
                ),
                201,
            )
            .await["id"]
            .as_i64()
            .unwrap();
        let hq_household = f.app.unit_id(&f.root, "HQ-B1-01-H1").await;
        for unit in [f.household2, hq_household] {
            f.send(
                Method::POST,
                &format!("/api/v1/units/{unit}/posts"),
                &f.root,
                Some(json!({"user_id": both})),
                201,
            )
            .await;
        }
        f.send(
            Method::PATCH,
            &format!("/api/v1/units/{hq_household}"),
            &f.root,
            Some(json!({"name": "党员中心户·钱家（更名）"})),
            200,
        )
        .await;
        Self {
            f,
            reporter_name,
            anonymous,
            on_behalf,
            outsider,
            both,
            renamed: hq_household,
        }
    }

    /// What caller `who` learns from row `row`.
    async fn sight(&self, row: &str, who: usize) -> String {
        let f = &self.f;
        let token = f.tokens[who].as_deref();
        let staff = who >= 3;
        let (method, path, body) = match row {
            "anonymous complaint: GET /tickets/{id}" => {
                (Method::GET, format!("/api/v1/tickets/{}", self.anonymous), None)
            }
            "anonymous complaint: GET /tickets?reporter_id=<reporter>" => (
                Method::GET,
                format!("/api/v1/tickets?reporter_id={}&limit=100", f.resident01),
                None,
            ),
            "anonymous complaint: GET /tickets/export (its line)"
            | "anonymous, filed by staff on behalf: GET /tickets/export (its line)" => {
                (Method::GET, "/api/v1/tickets/export".to_owned(), None)
            }
            "anonymous complaint: GET /tickets/export?reporter_id=<reporter>" => (
                Method::GET,
                format!("/api/v1/tickets/export?reporter_id={}", f.resident01),
                None,
            ),
            "anonymous complaint: GET /tickets/{id}/comments (the reporter commented)" => (
                Method::GET,
                format!("/api/v1/tickets/{}/comments", self.anonymous),
                None,
            ),
            "anonymous complaint: GET /tickets/{id}/events (the reporter commented and withdrew)" => {
                (Method::GET, format!("/api/v1/tickets/{}/events", self.anonymous), None)
            }
            "anonymous, filed by staff on behalf: GET /tickets/{id}/events" => {
                (Method::GET, format!("/api/v1/tickets/{}/events", self.on_behalf), None)
            }
            "anonymous, filed by staff on behalf: GET /tickets/{id}" => {
                (Method::GET, format!("/api/v1/tickets/{}", self.on_behalf), None)
            }
            "POST /disputes naming a resident of another community" => {
                let mut body = json!({"category": "neighbour_dispute", "title": "漏水纠纷", "description": "协商未果。",
                    "respondents": [{"user_id": self.outsider}]});
                if staff {
                    body["on_behalf_of"] = json!(f.resident01);
                }
                (Method::POST, "/api/v1/disputes".to_owned(), Some(body))
            }
            "POST /disputes/{id}/parties adding a resident of another community" => (
                Method::POST,
                format!("/api/v1/disputes/{}/parties", f.dispute),
                Some(json!({"role": "respondent", "user_id": self.outsider})),
            ),
            "PATCH /users/{id} renaming staff who serve both communities" => (
                Method::PATCH,
                format!("/api/v1/users/{}", self.both),
                Some(json!({"display_name": format!("改名{}", f.next())})),
            ),
            "GET /audit: a second-community admin reads what was done to their unit" => {
                (Method::GET, "/api/v1/audit?limit=100".to_owned(), None)
            }
            _ => panic!("no request for row {row}"),
        };
        let res = f.app.request(method, &path, token, body).await;
        let status = res.status.as_u16();
        if status == 422 {
            return format!("422 {}", res.error_fields().join(" "));
        }
        if status != 200 {
            return status.to_string();
        }
        let listed = |id: i64| {
            let found = res.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["id"] == id || t["object"] == format!("/api/v1/units/{id}"));
            if found { "listed" } else { "absent" }.to_owned()
        };
        // An export: the ticket's line, if it has one.
        let line = |id: i64| {
            res.text
                .split("\r\n")
                .find(|line| line.starts_with(&format!("{id},")))
                .map(str::to_owned)
        };
        let sight = |line: Option<String>| match line {
            None => "absent".to_owned(),
            Some(line) if line.contains(&self.reporter_name) => "named".to_owned(),
            Some(_) => "hidden".to_owned(),
        };
        match row {
            "anonymous complaint: GET /tickets/export (its line)" => sight(line(self.anonymous)),
            "anonymous, filed by staff on behalf: GET /tickets/export (its line)" => sight(line(self.on_behalf)),
            "anonymous complaint: GET /tickets/export?reporter_id=<reporter>" => if line(self.anonymous).is_some() {
                "listed"
            } else {
                "absent"
            }
            .to_owned(),
            "anonymous complaint: GET /tickets?reporter_id=<reporter>" => listed(self.anonymous),
            "GET /audit: a second-community admin reads what was done to their unit" => listed(self.renamed),
            "PATCH /users/{id} renaming staff who serve both communities" => status.to_string(),
            _ if res.text.contains(&self.reporter_name) => "named".to_owned(),
            _ => "hidden".to_owned(),
        }
    }
}

#[actix_web::test]
async fn anonymity_and_community_walls_hold_for_every_caller() {
    let s = SightFixture::new().await;
    let mut wrong = Vec::new();
    for (row, expected) in SIGHT {
        for (who, want) in expected.iter().enumerate() {
            let got = s.sight(row, who).await;
            if got != *want {
                wrong.push(format!("{row} as {}: {got} (expected {want})", CALLERS[who]));
            }
        }
    }
    eprintln!(
        "anonymity and community walls: {} rows x {} callers",
        SIGHT.len(),
        CALLERS.len()
    );
    assert!(wrong.is_empty(), "{} cells differ:\n{}", wrong.len(), wrong.join("\n"));
}
