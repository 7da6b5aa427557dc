//! Webhook deliveries: the worker that empties the outbox.
//!
//! A delivery row is written in the transaction of the event it reports
//! (`service::timeline`). This worker claims due rows with a lease (on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas never send one
//! twice while the lease holds), posts each, signed, to its endpoint, and
//! records what came of it: delivered on a 2xx answer; anything else
//! (another status, a redirect, a timeout, a refused address) is retried
//! with exponential backoff and jitter until the retry window (24 hours)
//! has passed, then given up. A worker killed between posting and
//! recording leaves the row leased; when the lease runs out it is sent
//! again: delivery is at least once, and receivers de-duplicate on
//! `Griddesk-Delivery`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::{Clock, utc};
use crate::db::webhooks::{self as store, Attempted, DeliveryRow, EndpointChanges, EndpointRow};
use crate::db::{AnyConnection, Db};
use crate::domain::grid::Level;
use crate::domain::notify::NotificationKind;
use crate::domain::notify_text::text;
use crate::domain::text::Lang;
use crate::domain::webhooks::{DISABLE_AFTER_FAILURES, Reach, RetryWindow, retry_delay, signature};
use crate::error::ApiError;

/// How deliveries are made (`--webhook-*` settings).
#[derive(Debug, Clone)]
pub struct Settings {
    pub reach: Reach,
    /// The longest an attempt may take, connecting included.
    pub timeout: Duration,
    pub retry: RetryWindow,
    /// Deliveries claimed at once, and sent at once.
    pub batch: i64,
    pub concurrency: usize,
    /// How often the outbox is looked at when it was empty.
    pub poll: Duration,
    /// Deadlines in bodies' text are written in this zone.
    pub time_zone: chrono_tz::Tz,
}

impl Settings {
    pub fn new(reach: Reach, time_zone: chrono_tz::Tz) -> Self {
        Self {
            reach,
            timeout: Duration::from_secs(10),
            retry: RetryWindow::default(),
            batch: 32,
            concurrency: 8,
            poll: Duration::from_secs(1),
            time_zone,
        }
    }
}

/// Posts deliveries. One per process: it keeps connections to endpoints.
#[derive(Clone)]
pub struct Deliverer {
    /// Built at the first delivery: a TLS client with its root store costs
    /// a few MiB that a deployment without webhooks never needs.
    client: Arc<std::sync::OnceLock<reqwest::Client>>,
    settings: Arc<Settings>,
}

/// Our resolver refused every address of a host name.
#[derive(Debug)]
struct AddressNotAllowed;

impl std::fmt::Display for AddressNotAllowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host resolves only to internal addresses")
    }
}

impl std::error::Error for AddressNotAllowed {}

/// Resolves host names and drops the addresses a delivery may not reach,
/// so the check holds for the address actually connected to (a name that
/// resolves to a public address when registered and to 127.0.0.1 later
/// gets nowhere).
struct GuardedResolver {
    reach: Reach,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let reach = self.reach;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| reach.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(AddressNotAllowed) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl Deliverer {
    /// The client itself is built at the first delivery (a failure to
    /// build it is logged and the delivery retried like any other).
    pub fn new(settings: Settings) -> Self {
        Self {
            client: Arc::default(),
            settings: Arc::new(settings),
        }
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = build_client(&self.settings)?;
        Ok(self.client.get_or_init(|| client))
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Posts one delivery; returns the status answered (if any) and, when
    /// it failed, why in a few words.
    async fn post(&self, endpoint: &EndpointRow, delivery: &DeliveryRow, body: &str) -> (Option<i32>, Option<String>) {
        let Ok(url) = url::Url::parse(&endpoint.url) else {
            return (None, Some("the URL no longer parses".into()));
        };
        // An address in the URL itself is never resolved: check it here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(|ip| !self.settings.reach.allows(ip)) || !self.scheme_allowed(&url) {
            return (None, Some("address not allowed".into()));
        }
        let client = match self.client() {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "webhook client");
                return (None, Some("the client could not be built".into()));
            }
        };
        // Signed with the wall clock's time: receivers compare it with theirs.
        let timestamp = chrono::Utc::now().timestamp();
        let request = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Griddesk-Delivery", delivery.id.to_string())
            .header("Griddesk-Event", delivery.kind.as_str())
            .header(
                "Griddesk-Signature",
                signature(&endpoint.secret, timestamp, body.as_bytes()),
            )
            .body(body.to_owned());
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let code = i32::from(status.as_u16());
                if status.is_success() {
                    (Some(code), None)
                } else if status.is_redirection() {
                    (Some(code), Some(format!("HTTP {code}: redirects are not followed")))
                } else {
                    (Some(code), Some(format!("HTTP {code}")))
                }
            }
            Err(error) => (None, Some(describe(&error))),
        }
    }

    fn scheme_allowed(&self, url: &url::Url) -> bool {
        url.scheme() == "https" || (url.scheme() == "http" && self.settings.reach.allow_http)
    }
}

fn build_client(settings: &Settings) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .dns_resolver(Arc::new(GuardedResolver { reach: settings.reach }))
        .user_agent(concat!("griddesk-webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(2)
        .build()
        .map_err(|e| format!("cannot build the webhook client: {e}"))
}

/// A few words on why a request failed, without anything it sent.
fn describe(error: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        // Our resolver's error, however the client wrapped it.
        if cause.is::<AddressNotAllowed>() || cause.to_string() == AddressNotAllowed.to_string() {
            return "address not allowed".into();
        }
        source = cause.source();
    }
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}

/// What a webhook posts: one notification kind of one event, with whom it
/// told and their devices, so a push relay or an SMS gateway needs no user
/// database of its own. It names no one but its recipients (by id) and
/// quotes no one: the same as the notification it reports.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 4711, "kind": "arrived", "created_at": "2026-12-02T01:00:00Z",
    "community_id": 1, "ticket_id": 1024,
    "unit": {"id": 31, "name": "1号楼1单元党员中心户", "level": "household"},
    "due_at": "2026-12-03T01:00:00Z",
    "title": {"zh": "新工单待签收", "en": "New ticket to sign for"},
    "body": {"zh": "工单 #1024 已到达1号楼1单元党员中心户，请在 2026-12-03 09:00 前签收。",
             "en": "Ticket #1024 arrived at 1号楼1单元党员中心户. Sign for it by 2026-12-03 09:00."},
    "recipients": [{"user_id": 5, "devices": [{"platform": "apns", "token": "3f1c…"}]}]
}))]
pub struct WebhookPayload {
    /// The delivery's id, also in the `Griddesk-Delivery` header: the same
    /// on every retry and redelivery, so a receiver can drop repeats.
    pub id: i64,
    pub kind: NotificationKind,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The community (its committee unit) the endpoint belongs to.
    pub community_id: i64,
    pub ticket_id: Option<i64>,
    pub unit: Option<PayloadUnit>,
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub due_at: Option<chrono::DateTime<chrono::Utc>>,
    pub title: Bilingual,
    pub body: Bilingual,
    /// Who was told, each with the devices they registered
    /// (`POST /me/devices`). Empty when the unit told has no staff.
    pub recipients: Vec<PayloadRecipient>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayloadUnit {
    pub id: i64,
    pub name: String,
    pub level: Level,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Bilingual {
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayloadRecipient {
    pub user_id: i64,
    pub devices: Vec<PayloadDevice>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayloadDevice {
    pub platform: String,
    pub token: String,
}

/// The body of `delivery`, built once at its first attempt.
fn build_body(
    conn: &mut AnyConnection,
    delivery: &DeliveryRow,
    community_id: i64,
    tz: chrono_tz::Tz,
) -> Result<String, ApiError> {
    let kind = NotificationKind::parse(&delivery.kind)
        .ok_or_else(|| ApiError::internal(format!("delivery {} has an unknown kind", delivery.id)))?;
    let unit = match delivery.unit_id {
        Some(id) => crate::db::queries::find_unit(conn, id)?.map(|u| PayloadUnit {
            id: u.id,
            name: u.name,
            level: u.level,
        }),
        None => None,
    };
    let users = store::recipients(conn, delivery)?;
    let mut devices: HashMap<i64, Vec<PayloadDevice>> = HashMap::new();
    for (user_id, platform, token) in store::devices_of(conn, &users)? {
        devices
            .entry(user_id)
            .or_default()
            .push(PayloadDevice { platform, token });
    }
    let local = |at: NaiveDateTime| utc(at).with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let words = |lang| {
        text(
            kind,
            lang,
            delivery.ticket_id.unwrap_or_default(),
            unit.as_ref().map(|u| u.name.as_str()),
            delivery.due_at.map(local),
        )
    };
    let (zh_title, zh_body) = words(Lang::Zh);
    let (en_title, en_body) = words(Lang::En);
    let payload = WebhookPayload {
        id: delivery.id,
        kind,
        created_at: utc(delivery.created_at),
        community_id,
        ticket_id: delivery.ticket_id,
        unit,
        due_at: delivery.due_at.map(utc),
        title: Bilingual {
            zh: zh_title,
            en: en_title,
        },
        body: Bilingual {
            zh: zh_body,
            en: en_body,
        },
        recipients: users
            .into_iter()
            .map(|user_id| PayloadRecipient {
                user_id,
                devices: devices.remove(&user_id).unwrap_or_default(),
            })
            .collect(),
    };
    serde_json::to_string(&payload).map_err(ApiError::internal)
}

/// What one pass of the delivery worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub claimed: usize,
    pub delivered: usize,
    /// Failed attempts to be retried.
    pub retrying: usize,
    /// Deliveries given up after the retry window.
    pub given_up: usize,
    /// Endpoints disabled after failing for the whole window.
    pub disabled: usize,
}

/// A claimed delivery with its body and endpoint, ready to post.
struct Ready {
    delivery: DeliveryRow,
    endpoint: EndpointRow,
    body: String,
}

/// Claims what is due, posts it, and records the outcome. One pass.
pub async fn deliver_due(db: &Db, deliverer: &Deliverer, clock: &Clock) -> Result<Report, ApiError> {
    let settings = deliverer.settings.clone();
    let now = clock.now_naive();
    // A look first, with a reader: an empty outbox costs no write transaction.
    let due = db.run(move |conn| Ok(store::any_due(conn, now)?)).await?;
    if !due {
        return Ok(Report::default());
    }
    // The lease outlasts an attempt (its timeout) by a margin.
    let lease_until = now + chrono::Duration::from_std(settings.timeout * 3).unwrap_or(chrono::Duration::seconds(60));
    let claim_settings = settings.clone();
    let ready: Vec<Ready> = db
        .write_unaudited(move |conn| {
            let claimed = store::claim_due(conn, now, lease_until, claim_settings.batch)?;
            let mut ids: Vec<i64> = claimed.iter().map(|d| d.endpoint_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let endpoints: HashMap<i64, EndpointRow> = store::endpoints_by_ids(conn, &ids)?
                .into_iter()
                .map(|e| (e.id, e))
                .collect();
            let mut ready = Vec::with_capacity(claimed.len());
            for mut delivery in claimed {
                let Some(endpoint) = endpoints.get(&delivery.endpoint_id) else {
                    continue;
                };
                let body = match delivery.body.take() {
                    Some(body) => body,
                    None => {
                        let body = build_body(conn, &delivery, endpoint.community_id, claim_settings.time_zone)?;
                        store::set_body(conn, delivery.id, &body)?;
                        body
                    }
                };
                delivery.leased_until = Some(lease_until);
                ready.push(Ready {
                    delivery,
                    endpoint: endpoint.clone(),
                    body,
                });
            }
            Ok(ready)
        })
        .await?;
    let mut report = Report {
        claimed: ready.len(),
        ..Report::default()
    };
    if ready.is_empty() {
        return Ok(report);
    }
    let outcomes: Vec<(Ready, Option<i32>, Option<String>)> = futures_util::stream::iter(ready)
        .map(|r| async move {
            let (status, error) = deliverer.post(&r.endpoint, &r.delivery, &r.body).await;
            (r, status, error)
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    let at = clock.now_naive();
    let retry = settings.retry;
    let recorded = db
        .write_unaudited(move |conn| {
            let mut report = Report::default();
            let mut endpoints: HashMap<i64, Tally> = HashMap::new();
            for (ready, status, error) in outcomes {
                let delivery = &ready.delivery;
                let retry_at = match &error {
                    None => None,
                    Some(_) if retry.gives_up(delivery.created_at, at) => None,
                    Some(_) => Some(at + retry_delay(delivery.attempts + 1, rand::random::<f64>())),
                };
                let attempt = Attempted {
                    at,
                    status,
                    error: error.clone(),
                    retry_at,
                };
                let Some(leased_until) = delivery.leased_until else {
                    continue;
                };
                if !store::record_attempt(conn, delivery.id, leased_until, &attempt)? {
                    // Another worker took it over after the lease ran out.
                    continue;
                }
                match (&error, retry_at) {
                    (None, _) => report.delivered += 1,
                    (Some(_), Some(_)) => report.retrying += 1,
                    (Some(_), None) => report.given_up += 1,
                }
                let tally = endpoints.entry(ready.endpoint.id).or_insert(Tally {
                    endpoint: ready.endpoint,
                    successes: 0,
                    failures: 0,
                    gave_up: false,
                });
                match (&error, retry_at) {
                    (None, _) => tally.successes += 1,
                    (Some(_), Some(_)) => tally.failures += 1,
                    (Some(_), None) => {
                        tally.failures += 1;
                        tally.gave_up = true;
                    }
                }
            }
            for tally in endpoints.values() {
                if count_failures(conn, tally, retry, at)? {
                    report.disabled += 1;
                }
            }
            Ok(report)
        })
        .await?;
    report.delivered = recorded.delivered;
    report.retrying = recorded.retrying;
    report.given_up = recorded.given_up;
    report.disabled = recorded.disabled;
    Ok(report)
}

/// What one pass's attempts came to at one endpoint.
struct Tally {
    endpoint: EndpointRow,
    successes: usize,
    failures: i32,
    /// A delivery was given up: it failed for the whole window.
    gave_up: bool,
}

/// Stores an endpoint's run of failures: any delivery that got through
/// this pass ends it; otherwise it grows by this pass's failures, and an
/// endpoint that has failed for the whole window (or just gave up a
/// delivery, 10 failures in a row or more) is disabled, its community's
/// admins told. Returns whether it was disabled now.
fn count_failures(
    conn: &mut AnyConnection,
    tally: &Tally,
    retry: RetryWindow,
    at: NaiveDateTime,
) -> Result<bool, ApiError> {
    let endpoint = &tally.endpoint;
    // Counted on the row as stored now: another worker may have counted too.
    let Some(stored) = store::find_endpoint(conn, endpoint.id)? else {
        return Ok(false);
    };
    let changes = if tally.successes > 0 {
        EndpointChanges {
            consecutive_failures: Some(0),
            failing_since: Some(None),
            ..EndpointChanges::default()
        }
    } else {
        let failures = stored.consecutive_failures.saturating_add(tally.failures);
        let since = stored.failing_since.unwrap_or(at);
        let disable = stored.state == "active"
            && (retry.disables(failures, since, at) || (tally.gave_up && failures >= DISABLE_AFTER_FAILURES));
        EndpointChanges {
            consecutive_failures: Some(failures),
            failing_since: Some(Some(since)),
            state: disable.then(|| "disabled".to_owned()),
            disabled_at: disable.then_some(Some(at)),
            updated_at: disable.then_some(at),
            ..EndpointChanges::default()
        }
    };
    let disabled = changes.state.is_some();
    store::update_endpoint(conn, endpoint.id, &changes)?;
    // Paused or disabled while its deliveries were out (or just now): what
    // is still pending waits, parked, for it to be resumed.
    if disabled || stored.state != "active" {
        store::park(conn, endpoint.id)?;
    }
    if disabled {
        tracing::warn!(
            endpoint = endpoint.id,
            community = endpoint.community_id,
            "webhook endpoint disabled after failing"
        );
        let rows: Vec<crate::db::notifications::NewNotificationRow> = store::admins_of(conn, endpoint.community_id)?
            .into_iter()
            .map(|user_id| crate::db::notifications::NewNotificationRow {
                user_id,
                kind: NotificationKind::WebhookDisabled.as_str().to_owned(),
                ticket_id: None,
                event_id: None,
                unit_id: Some(endpoint.community_id),
                due_at: None,
                created_at: at,
                read_at: None,
            })
            .collect();
        crate::db::notifications::insert_notifications(conn, &rows)?;
    }
    Ok(disabled)
}

/// Deliveries delivered or given up are kept this long in the log.
pub const LOG_RETENTION_DAYS: i64 = 30;

/// Deletes finished deliveries older than the log keeps, in batches.
pub fn prune_log(db: &Db, now: NaiveDateTime) -> Result<usize, ApiError> {
    let cutoff = now - chrono::Duration::days(LOG_RETENTION_DAYS);
    let mut pruned = 0;
    for _ in 0..100 {
        let deleted = db.write_blocking(move |conn| Ok(store::delete_finished_before(conn, cutoff, 1000)?))?;
        pruned += deleted;
        if deleted < 1000 {
            break;
        }
    }
    Ok(pruned)
}

/// Delivers until the server stops: a pass whenever the last one found a
/// full batch, else after `poll`. Prunes the log hourly.
pub async fn run_forever(db: Db, clock: Clock, deliverer: Deliverer, metrics: crate::metrics::Metrics) {
    let poll = deliverer.settings.poll;
    let batch = usize::try_from(deliverer.settings.batch).unwrap_or(1);
    let mut last_prune: Option<NaiveDateTime> = None;
    loop {
        let now = clock.now_naive();
        if last_prune.is_none_or(|at| now - at >= chrono::Duration::hours(1)) {
            last_prune = Some(now);
            let prune_db = db.clone();
            match actix_web::web::block(move || prune_log(&prune_db, now)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(pruned)) => tracing::info!(pruned, "old webhook deliveries deleted"),
                Ok(Err(error)) => tracing::error!(%error, "pruning webhook deliveries failed"),
                Err(error) => tracing::error!(%error, "pruning webhook deliveries could not run"),
            }
        }
        let started = std::time::Instant::now();
        let outcome = deliver_due(&db, &deliverer, &clock).await;
        metrics.observe_pass(
            crate::metrics::WorkerPass::Webhooks,
            started.elapsed(),
            outcome.is_ok(),
            clock.now(),
        );
        match outcome {
            Ok(report) => {
                metrics.count_webhook_deliveries(&report);
                if report.claimed >= batch {
                    continue;
                }
            }
            Err(error) => tracing::error!(%error, "webhook delivery pass failed"),
        }
        tokio::time::sleep(poll).await;
    }
}
