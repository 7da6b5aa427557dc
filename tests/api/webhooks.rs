//! Webhooks over HTTP, delivered to a real receiver on loopback: signed
//! deliveries with their recipients' devices, retries with backoff, each
//! ticket's order, disabling an endpoint that keeps failing (and telling its
//! admins), pausing and resuming, redelivery, what may be registered and
//! reached, two replicas delivering each delivery once; and devices.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Duration;
use griddesk::domain::webhooks::Reach;
use griddesk::webhooks::{Deliverer, Report, Settings, deliver_due};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::TestApp;
use crate::tickets::file;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    delivery: i64,
    event: String,
    signature: String,
    body: Vec<u8>,
    json: Value,
}

#[derive(Default)]
struct Script {
    seen: Mutex<Vec<Received>>,
    /// Failures (500) still to answer, by the body's ticket id.
    fail_ticket: Mutex<HashMap<i64, u32>>,
    always_fail: AtomicBool,
    redirect: AtomicBool,
}

/// A webhook receiver on 127.0.0.1: records every request, answers 204, or
/// 500 or a redirect as scripted.
struct Receiver {
    url: String,
    script: Arc<Script>,
    server: actix_web::dev::ServerHandle,
}

async fn receive(req: HttpRequest, body: web::Bytes, script: web::Data<Script>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    script.seen.lock().unwrap().push(Received {
        delivery: header("griddesk-delivery").parse().unwrap_or(-1),
        event: header("griddesk-event"),
        signature: header("griddesk-signature"),
        body: body.to_vec(),
        json: json.clone(),
    });
    if script.redirect.load(Ordering::SeqCst) {
        return HttpResponse::Found().insert_header(("Location", "/elsewhere")).finish();
    }
    if script.always_fail.load(Ordering::SeqCst) {
        return HttpResponse::InternalServerError().finish();
    }
    let ticket = json["ticket_id"].as_i64().unwrap_or(0);
    let mut failing = script.fail_ticket.lock().unwrap();
    if let Some(left) = failing.get_mut(&ticket)
        && *left > 0
    {
        *left -= 1;
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::NoContent().finish()
}

impl Receiver {
    async fn start() -> Self {
        let script = Arc::new(Script::default());
        let data = web::Data::from(script.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            script,
            server: handle,
        }
    }

    fn seen(&self) -> Vec<Received> {
        self.script.seen.lock().unwrap().clone()
    }

    fn fail_ticket(&self, ticket: i64, times: u32) {
        self.script.fail_ticket.lock().unwrap().insert(ticket, times);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let server = self.server.clone();
        actix_web::rt::spawn(async move { server.stop(false).await });
    }
}

const OPEN: Reach = Reach {
    allow_http: true,
    allow_private: true,
};

async fn app_reaching(reach: Reach) -> TestApp {
    let app = TestApp::spawn_with(move |state| state.webhook_reach = reach).await;
    app.load_demo().await;
    app
}

fn deliverer(reach: Reach) -> Deliverer {
    let mut settings = Settings::new(reach, chrono_tz::Asia::Shanghai);
    settings.timeout = std::time::Duration::from_secs(5);
    Deliverer::new(settings)
}

async fn deliver(app: &TestApp, deliverer: &Deliverer) -> Report {
    deliver_due(&app.db, deliverer, &app.clock).await.unwrap()
}

async fn register(app: &TestApp, admin: &str, url: &str, kinds: Option<Value>) -> Value {
    let committee = app.unit_id(admin, "JM").await;
    let mut body = json!({"community_id": committee, "url": url, "description": "推送网关"});
    if let Some(kinds) = kinds {
        body["kinds"] = kinds;
    }
    app.post("/api/v1/webhooks", Some(admin), body)
        .await
        .expect(201)
        .clone()
}

async fn log(app: &TestApp, admin: &str, endpoint: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/webhooks/{endpoint}/deliveries"), Some(admin))
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Checks `Griddesk-Signature` as a receiver would: HMAC-SHA256 of
/// `<t>.<body>` with the secret, `t` within 5 minutes of now.
fn signed_by(received: &Received, secret: &str) -> bool {
    let mut parts = BTreeMap::new();
    for part in received.signature.split(',') {
        if let Some((k, v)) = part.split_once('=') {
            parts.insert(k, v);
        }
    }
    let (Some(t), Some(v1)) = (parts.get("t"), parts.get("v1")) else {
        return false;
    };
    let fresh = t
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= 300);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    fresh && mac.verify_slice(&hex::decode(v1).unwrap_or_default()).is_ok()
}

fn field_code(res: &crate::support::Res, field: &str) -> String {
    res.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == field)
        .map(|e| e["code"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no error for {field}: {}", res.text))
}

#[actix_web::test]
async fn an_endpoint_gets_its_communitys_notifications_signed_with_their_recipients_devices() {
    let app = app_reaching(OPEN).await;
    let receiver = Receiver::start().await;
    let deliverer = deliverer(OPEN);
    let admin = app.token("jm.admin").await;
    let created = register(&app, &admin, &receiver.url, Some(json!(["arrived", "accepted"]))).await;
    let endpoint = created["id"].as_i64().unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    assert_eq!(created["kinds"], json!(["arrived", "accepted"]));
    assert_eq!(created["state"], "active");
    // The secret is shown once.
    let shown = app.get(&format!("/api/v1/webhooks/{endpoint}"), Some(&admin)).await;
    assert!(shown.expect(200).get("secret").is_none() && !shown.text.contains(&secret));
    let listed = app.get("/api/v1/webhooks", Some(&admin)).await;
    assert!(!listed.text.contains(&secret));

    let household = app.token("jm.b1.bldg1.h1").await;
    let household_id = app.user_id(&admin, "jm.b1.bldg1.h1").await;
    app.post(
        "/api/v1/me/devices",
        Some(&household),
        json!({"platform": "apns", "token": "a1b2c3d4e5f60718"}),
    )
    .await
    .expect(201);
    let resident = app.token("resident01").await;
    let resident_id = app.user_id(&admin, "resident01").await;
    let ticket = file(&app, &resident, "noise", "装修噪音").await;
    let id = ticket["id"].as_i64().unwrap();

    let report = deliver(&app, &deliverer).await;
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    let arrived = &seen[0];
    assert!(signed_by(arrived, &secret), "signature {}", arrived.signature);
    assert!(!signed_by(arrived, "whsec_another"));
    assert_eq!(arrived.event, "arrived");
    assert_eq!(arrived.json["id"].as_i64(), Some(arrived.delivery));
    assert_eq!(arrived.json["kind"], "arrived");
    assert_eq!(arrived.json["ticket_id"], id);
    assert_eq!(arrived.json["community_id"], app.unit_id(&admin, "JM").await);
    assert_eq!(arrived.json["unit"]["level"], "household");
    assert!(arrived.json["due_at"].as_str().unwrap().ends_with('Z'));
    assert!(arrived.json["title"]["zh"].as_str().unwrap().contains("签收"));
    assert!(arrived.json["body"]["en"].as_str().unwrap().contains(&format!("#{id}")));
    assert_eq!(
        arrived.json["recipients"],
        json!([{"user_id": household_id, "devices": [{"platform": "apns", "token": "a1b2c3d4e5f60718"}]}])
    );
    // It names no one but its recipients and quotes no one.
    let text = String::from_utf8(arrived.body.clone()).unwrap();
    let me = app.get("/api/v1/me", Some(&resident)).await.expect(200).clone();
    for private in ["装修噪音", "resident01", me["display_name"].as_str().unwrap()] {
        assert!(!text.contains(private), "{private} in {text}");
    }

    // Signed for: the reporter is told. A comment is not a kind it takes.
    app.post(&format!("/api/v1/tickets/{id}/accept"), Some(&household), json!({}))
        .await
        .expect(200);
    app.post(
        &format!("/api/v1/tickets/{id}/comments"),
        Some(&resident),
        json!({"body": "谢谢"}),
    )
    .await
    .expect(201);
    deliver(&app, &deliverer).await;
    let seen = receiver.seen();
    assert_eq!(
        seen.iter().map(|r| r.event.as_str()).collect::<Vec<_>>(),
        ["arrived", "accepted"]
    );
    assert_eq!(
        seen[1].json["recipients"],
        json!([{"user_id": resident_id, "devices": []}])
    );
    assert!(signed_by(&seen[1], &secret));

    // Another community's tickets never reach this endpoint.
    let root = app.superadmin().await;
    app.second_community(&root).await;
    let outsider = app.token("hq.resident").await;
    file(&app, &outsider, "noise", "别处的噪音").await;
    deliver(&app, &deliverer).await;
    assert_eq!(receiver.seen().len(), 2);

    let log = log(&app, &admin, endpoint).await;
    assert_eq!(log.len(), 2);
    for entry in &log {
        assert_eq!(entry["status"], "delivered");
        assert_eq!(entry["attempts"], 1);
        assert_eq!(entry["last_status"], 204);
        assert!(entry["next_attempt_at"].is_null() && entry["delivered_at"].is_string());
    }
}

#[actix_web::test]
async fn failures_are_retried_with_backoff_and_each_ticket_keeps_its_order() {
    let app = app_reaching(OPEN).await;
    let receiver = Receiver::start().await;
    let deliverer = deliverer(OPEN);
    let admin = app.token("jm.admin").await;
    let endpoint = register(&app, &admin, &receiver.url, None).await["id"]
        .as_i64()
        .unwrap();
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let a = file(&app, &resident, "noise", "噪音一").await["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/tickets/{a}/accept"), Some(&household), json!({}))
        .await
        .expect(200);
    let b = file(&app, &resident, "noise", "噪音二").await["id"].as_i64().unwrap();
    receiver.fail_ticket(a, 3);

    // Ticket A's first event fails; its second waits behind it; B goes through.
    let report = deliver(&app, &deliverer).await;
    assert_eq!(
        (report.claimed, report.delivered, report.retrying),
        (2, 1, 1),
        "{report:?}"
    );
    let entries = log(&app, &admin, endpoint).await;
    let first_of_a = entries
        .iter()
        .find(|e| e["ticket_id"] == a && e["kind"] == "arrived")
        .unwrap()
        .clone();
    assert_eq!(first_of_a["status"], "pending");
    assert_eq!(first_of_a["attempts"], 1);
    assert_eq!(first_of_a["last_status"], 500);
    assert_eq!(first_of_a["last_error"], "HTTP 500");
    let next: chrono::DateTime<chrono::Utc> = first_of_a["next_attempt_at"].as_str().unwrap().parse().unwrap();
    let wait = next - app.clock.now();
    assert!(wait > Duration::seconds(10) && wait <= Duration::seconds(30), "{wait}");
    // Nothing is due until then.
    assert_eq!(deliver(&app, &deliverer).await.claimed, 0);

    for _ in 0..3 {
        app.clock.advance(Duration::hours(1));
        deliver(&app, &deliverer).await;
    }
    let report = deliver(&app, &deliverer).await;
    let admin = app.token("jm.admin").await;
    assert_eq!(report.delivered, 1, "{report:?}");
    let of_a: Vec<(String, i64)> = receiver
        .seen()
        .iter()
        .filter(|r| r.json["ticket_id"] == a)
        .map(|r| (r.event.clone(), r.delivery))
        .collect();
    let first = of_a[0].1;
    assert_eq!(
        of_a.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(),
        ["arrived", "arrived", "arrived", "arrived", "accepted"]
    );
    // A retry is the same delivery, with the same body.
    assert!(of_a[..4].iter().all(|(_, d)| *d == first));
    let bodies: Vec<Vec<u8>> = receiver
        .seen()
        .iter()
        .filter(|r| r.delivery == first)
        .map(|r| r.body.clone())
        .collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(receiver.seen().iter().filter(|r| r.json["ticket_id"] == b).count(), 1);
    let entries = log(&app, &admin, endpoint).await;
    let first_of_a = entries.iter().find(|e| e["id"] == first).unwrap();
    assert_eq!(first_of_a["status"], "delivered");
    assert_eq!(first_of_a["attempts"], 4);
    // The endpoint's run of failures ended with the delivery that got through.
    let shown = app.get(&format!("/api/v1/webhooks/{endpoint}"), Some(&admin)).await;
    assert_eq!(shown.expect(200)["consecutive_failures"], 0);
}

#[actix_web::test]
async fn an_endpoint_failing_for_a_day_is_disabled_its_admins_told_and_it_resumes_with_what_queued() {
    let app = app_reaching(OPEN).await;
    let receiver = Receiver::start().await;
    let deliverer = deliverer(OPEN);
    let admin = app.token("jm.admin").await;
    let endpoint = register(&app, &admin, &receiver.url, None).await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/webhooks/{endpoint}");
    let resident = app.token("resident01").await;
    receiver.script.always_fail.store(true, Ordering::SeqCst);
    file(&app, &resident, "noise", "噪音一").await;

    let started = app.clock.now();
    let mut disabled_after = None;
    let mut admin = admin;
    for _ in 0..60 {
        deliver(&app, &deliverer).await;
        // Access tokens last 15 minutes of the moving clock.
        admin = app.token("jm.admin").await;
        let shown = app.get(&path, Some(&admin)).await.expect(200).clone();
        if shown["state"] == "disabled" {
            disabled_after = Some(app.clock.now() - started);
            assert!(shown["disabled_at"].is_string());
            assert!(shown["consecutive_failures"].as_i64().unwrap() >= 10);
            break;
        }
        assert_eq!(shown["state"], "active");
        app.clock.advance(Duration::minutes(30));
    }
    let disabled_after = disabled_after.expect("disabled within 30 hours");
    assert!(
        disabled_after >= Duration::hours(24) && disabled_after <= Duration::hours(26),
        "{disabled_after}"
    );
    let entries = log(&app, &admin, endpoint).await;
    assert_eq!(entries[0]["status"], "failed");
    let attempts = entries[0]["attempts"].as_i64().unwrap();
    assert!(attempts >= 10, "{attempts}");
    assert_eq!(receiver.seen().len() as i64, attempts);

    // The community's admins are told; nobody else.
    let told = app.get("/api/v1/notifications?limit=5", Some(&admin)).await;
    let newest = &told.expect(200)["items"][0];
    assert_eq!(newest["kind"], "webhook_disabled");
    assert!(newest["ticket_id"].is_null());
    assert_eq!(newest["unit"]["id"], app.unit_id(&admin, "JM").await);
    let staff = app.token("jm.committee").await;
    let staff_feed = app.get("/api/v1/notifications?limit=100", Some(&staff)).await;
    assert!(!staff_feed.text.contains("webhook_disabled"));

    // While disabled, new events queue up and nothing is sent.
    let resident = app.token("resident01").await;
    let queued = file(&app, &resident, "noise", "噪音二").await["id"].as_i64().unwrap();
    let before = receiver.seen().len();
    assert_eq!(deliver(&app, &deliverer).await.claimed, 0);
    assert_eq!(receiver.seen().len(), before);

    // Resumed, it sends what queued up.
    receiver.script.always_fail.store(false, Ordering::SeqCst);
    let resumed = app.patch(&path, Some(&admin), json!({"paused": false})).await;
    assert_eq!(resumed.expect(200)["state"], "active");
    assert_eq!(resumed.body["consecutive_failures"], 0);
    assert!(resumed.body["disabled_at"].is_null());
    assert_eq!(deliver(&app, &deliverer).await.delivered, 1);
    assert_eq!(receiver.seen().last().unwrap().json["ticket_id"], queued);

    // The given-up delivery goes again on request, same id.
    let failed = entries[0]["id"].as_i64().unwrap();
    let again = app
        .post(
            &format!("{path}/deliveries/{failed}/redeliver"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(again.expect(202)["status"], "pending");
    assert_eq!(deliver(&app, &deliverer).await.delivered, 1);
    assert_eq!(receiver.seen().last().unwrap().delivery, failed);

    // Paused by an admin: events queue, nothing is sent until it resumes.
    let paused = app.patch(&path, Some(&admin), json!({"paused": true})).await;
    assert_eq!(paused.expect(200)["state"], "paused");
    file(&app, &resident, "noise", "噪音三").await;
    assert_eq!(deliver(&app, &deliverer).await.claimed, 0);
    // It waits for the endpoint, not for a time.
    let waiting = &log(&app, &admin, endpoint).await[0];
    assert_eq!(waiting["status"], "pending");
    assert!(waiting["next_attempt_at"].is_null(), "{waiting}");
    app.clock.advance(Duration::days(3));
    let admin = app.token("jm.admin").await;
    assert_eq!(deliver(&app, &deliverer).await.claimed, 0);
    app.patch(&path, Some(&admin), json!({"paused": false}))
        .await
        .expect(200);
    assert_eq!(deliver(&app, &deliverer).await.delivered, 1);

    // Deleted: its queue and log go with it.
    app.delete(&path, Some(&admin)).await.expect(204);
    app.get(&path, Some(&admin)).await.expect_problem(404, "not_found");
    let resident = app.token("resident01").await;
    file(&app, &resident, "noise", "噪音四").await;
    assert_eq!(deliver(&app, &deliverer).await.claimed, 0);
}

#[actix_web::test]
async fn endpoints_must_be_public_https_and_deliveries_never_reach_internal_addresses() {
    let strict = TestApp::with_demo().await;
    let admin = strict.token("jm.admin").await;
    let committee = strict.unit_id(&admin, "JM").await;
    let branch = strict.unit_id(&admin, "JM-B1").await;
    for (url, code) in [
        ("http://hooks.example.com/a", "https_required"),
        ("https://127.0.0.1/a", "address_not_allowed"),
        ("https://[::1]/a", "address_not_allowed"),
        ("https://10.0.0.8/a", "address_not_allowed"),
        ("https://169.254.169.254/latest/meta-data", "address_not_allowed"),
        ("https://[::ffff:192.168.1.1]/a", "address_not_allowed"),
        ("https://user:pw@hooks.example.com/a", "invalid_url"),
        ("ftp://hooks.example.com/a", "invalid_url"),
        ("hooks.example.com/a", "invalid_url"),
    ] {
        let res = strict
            .post(
                "/api/v1/webhooks",
                Some(&admin),
                json!({"community_id": committee, "url": url}),
            )
            .await;
        res.expect_problem(422, "validation_failed");
        assert_eq!(field_code(&res, "url"), code, "{url}");
    }
    let res = strict
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            json!({"community_id": committee, "url": "https://hooks.example.com/a", "kinds": []}),
        )
        .await;
    assert_eq!(field_code(&res, "kinds"), "empty");
    // A branch is not a community.
    let res = strict
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            json!({"community_id": branch, "url": "https://hooks.example.com/a"}),
        )
        .await;
    assert_eq!(field_code(&res, "community_id"), "not_found");
    // At most 20 a community.
    for n in 0..20 {
        strict
            .post(
                "/api/v1/webhooks",
                Some(&admin),
                json!({"community_id": committee, "url": format!("https://hooks.example.com/{n}")}),
            )
            .await
            .expect(201);
    }
    strict
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            json!({"community_id": committee, "url": "https://hooks.example.com/21"}),
        )
        .await
        .expect_problem(409, "too_many_webhooks");

    // A host name passes registration, but a delivery connects only to a
    // public address: `localhost` resolves to loopback and is refused.
    let http_only = Reach {
        allow_http: true,
        allow_private: false,
    };
    let app = app_reaching(http_only).await;
    let receiver = Receiver::start().await;
    let admin = app.token("jm.admin").await;
    let port = receiver
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/hook")
        .to_owned();
    let endpoint = register(&app, &admin, &format!("http://localhost:{port}/hook"), None).await["id"]
        .as_i64()
        .unwrap();
    let resident = app.token("resident01").await;
    file(&app, &resident, "noise", "噪音").await;
    let report = deliver(&app, &deliverer(http_only)).await;
    assert_eq!(report.retrying, 1, "{report:?}");
    let entries = log(&app, &admin, endpoint).await;
    assert_eq!(entries[0]["last_error"], "address not allowed");
    assert!(entries[0]["last_status"].is_null());
    assert!(receiver.seen().is_empty());

    // Redirects are not followed.
    let open = app_reaching(OPEN).await;
    let admin = open.token("jm.admin").await;
    let endpoint = register(&open, &admin, &receiver.url, None).await["id"]
        .as_i64()
        .unwrap();
    receiver.script.redirect.store(true, Ordering::SeqCst);
    let resident = open.token("resident01").await;
    file(&open, &resident, "noise", "噪音").await;
    deliver(&open, &deliverer(OPEN)).await;
    let entries = log(&open, &admin, endpoint).await;
    assert_eq!(entries[0]["last_status"], 302);
    assert_eq!(entries[0]["status"], "pending");
    assert_eq!(receiver.seen().len(), 1, "the redirect was followed");
}

#[actix_web::test]
async fn admins_see_and_change_only_their_communitys_endpoints() {
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    let admin = app.token("jm.admin").await;
    let mine = register(&app, &admin, "https://hooks.example.com/jm", None).await["id"]
        .as_i64()
        .unwrap();
    let listed = app.get("/api/v1/webhooks", Some(&other.admin)).await;
    assert_eq!(listed.expect(200)["items"], json!([]));
    let everything = app.get("/api/v1/webhooks", Some(&root)).await;
    assert_eq!(everything.expect(200)["items"][0]["id"], mine);
    let path = format!("/api/v1/webhooks/{mine}");
    app.get(&path, Some(&other.admin))
        .await
        .expect_problem(404, "not_found");
    app.patch(&path, Some(&other.admin), json!({"paused": true}))
        .await
        .expect_problem(404, "not_found");
    app.delete(&path, Some(&other.admin))
        .await
        .expect_problem(404, "not_found");
    // Their own community's filter shows none of ours.
    let filtered = app
        .get(
            &format!("/api/v1/webhooks?community_id={}", app.unit_id(&admin, "JM").await),
            Some(&other.admin),
        )
        .await;
    assert_eq!(filtered.expect(200)["items"], json!([]));
    // Changing the kinds and back to every kind.
    let changed = app.patch(&path, Some(&admin), json!({"kinds": ["resolved"]})).await;
    assert_eq!(changed.expect(200)["kinds"], json!(["resolved"]));
    let changed = app.patch(&path, Some(&admin), json!({"kinds": null})).await;
    assert!(changed.expect(200)["kinds"].is_null());
    let bad = app
        .patch(&path, Some(&admin), json!({"url": "http://hooks.example.com/"}))
        .await;
    assert_eq!(field_code(&bad, "url"), "https_required");
}

#[actix_web::test]
async fn two_replicas_deliver_each_delivery_once() {
    let app = app_reaching(OPEN).await;
    let replica = app.replica_with(|state| state.webhook_reach = OPEN).await;
    let receiver = Receiver::start().await;
    let admin = app.token("jm.admin").await;
    register(&app, &admin, &receiver.url, None).await;
    // Two residents: one may file 10 tickets an hour.
    let residents = [app.token("resident01").await, app.token("resident02").await];
    let household = app.token("jm.b1.bldg1.h1").await;
    let mut expected = 0;
    for n in 0..12 {
        let resident = &residents[n / 6];
        let id = file(&app, resident, "noise", &format!("噪音{n}")).await["id"]
            .as_i64()
            .unwrap();
        expected += 1;
        if n % 2 == 0 && n < 6 {
            app.post(&format!("/api/v1/tickets/{id}/accept"), Some(&household), json!({}))
                .await
                .expect(200);
            expected += 1;
        }
    }
    let (one, two) = (deliverer(OPEN), deliverer(OPEN));
    for _ in 0..10 {
        let (a, b) = futures_util::future::join(deliver(&app, &one), deliver(&replica, &two)).await;
        if a.claimed + b.claimed == 0 {
            break;
        }
    }
    let seen = receiver.seen();
    let mut times: HashMap<i64, usize> = HashMap::new();
    for r in &seen {
        *times.entry(r.delivery).or_default() += 1;
    }
    assert_eq!(times.len(), expected, "every delivery arrived");
    assert!(times.values().all(|n| *n == 1), "a delivery arrived twice: {times:?}");
    // Each ticket's events in order.
    let mut last: HashMap<i64, i64> = HashMap::new();
    for r in &seen {
        let ticket = r.json["ticket_id"].as_i64().unwrap();
        if let Some(before) = last.insert(ticket, r.delivery) {
            assert!(before < r.delivery, "ticket {ticket} out of order");
        }
    }
}

#[actix_web::test]
async fn a_person_registers_and_forgets_their_devices() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let neighbour = app.token("resident02").await;
    let token = json!({"platform": "fcm", "token": "fcm:APA91b-token_0001"});
    let first = app.post("/api/v1/me/devices", Some(&resident), token.clone()).await;
    assert_eq!(first.expect(201)["platform"], "fcm");
    app.post("/api/v1/me/devices", Some(&resident), token.clone())
        .await
        .expect(200);
    let mine = app.get("/api/v1/me/devices", Some(&resident)).await;
    assert_eq!(mine.expect(200)["items"].as_array().unwrap().len(), 1);
    // Another person cannot forget it, and learns nothing by trying.
    let res = app
        .request(
            awc::http::Method::DELETE,
            "/api/v1/me/devices",
            Some(&neighbour),
            Some(token.clone()),
        )
        .await;
    res.expect(204);
    assert_eq!(
        app.get("/api/v1/me/devices", Some(&resident)).await.expect(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The phone changes hands: the token moves.
    app.post("/api/v1/me/devices", Some(&neighbour), token.clone())
        .await
        .expect(201);
    assert_eq!(
        app.get("/api/v1/me/devices", Some(&resident)).await.expect(200)["items"],
        json!([])
    );
    app.request(
        awc::http::Method::DELETE,
        "/api/v1/me/devices",
        Some(&neighbour),
        Some(token),
    )
    .await
    .expect(204);
    assert_eq!(
        app.get("/api/v1/me/devices", Some(&neighbour)).await.expect(200)["items"],
        json!([])
    );
    // Bad tokens, and at most 10 a person.
    for bad in ["short", "has space in it", &"x".repeat(5000)] {
        let res = app
            .post(
                "/api/v1/me/devices",
                Some(&resident),
                json!({"platform": "apns", "token": bad}),
            )
            .await;
        assert_eq!(field_code(&res, "token"), "invalid");
    }
    app.post(
        "/api/v1/me/devices",
        Some(&resident),
        json!({"platform": "carrier-pigeon", "token": "abcdefgh12"}),
    )
    .await
    .expect(422);
    for n in 0..12 {
        app.post(
            "/api/v1/me/devices",
            Some(&resident),
            json!({"platform": "apns", "token": format!("device-token-{n:02}")}),
        )
        .await
        .expect(201);
        app.clock.advance(Duration::seconds(1));
    }
    let kept: Vec<String> = app.get("/api/v1/me/devices", Some(&resident)).await.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["token"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kept.len(), 10);
    assert!(!kept.contains(&"device-token-00".to_owned()) && kept.contains(&"device-token-11".to_owned()));

    // A password change ends every session, and the phones go with them.
    let resident = app.token("resident01").await;
    app.post(
        "/api/v1/me/password",
        Some(&resident),
        json!({"current_password": crate::support::PASSWORD, "new_password": "another-long-password"}),
    )
    .await
    .expect(204);
    let again = app.login_tokens("resident01", "another-long-password").await;
    let again = again["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/me/devices", Some(again)).await.expect(200)["items"],
        json!([])
    );
}
