//! Prometheus metrics, served in the text format at `/metrics` on their own
//! listener (`--metrics-bind`), never on the API port.
//!
//! Every metric and label is defined here, so one file shows all that a
//! scrape can reveal. Labels hold only bounded, impersonal values: the HTTP
//! method, the route's *pattern* (`/api/v1/tickets/{id}`, never the path:
//! ids and query strings are personal data and would make a series per
//! ticket), the status code, and fixed names of pools, worker passes and
//! limits. No user, username, address, id or query ever becomes a label.
//!
//! The registry belongs to one server's state (not to the process), so
//! replicas and tests in one process each count their own.

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use prometheus::{
    GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::db::Db;
use crate::state::AppState;
use crate::worker::Report;

/// The route label of a request that matched no route (a 404 or 405 from
/// the fallback): one series for every unknown path.
pub const UNMATCHED: &str = "unmatched";

/// Request latencies: 1 ms to 10 s (a sign-in takes tens of milliseconds
/// for its hash; a slow list or an export, seconds).
const REQUEST_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Worker passes: usually milliseconds, minutes when a backlog is worked off.
const PASS_BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Writing a batch of queued audit rows: a millisecond or two; a stalled
/// disk or a restarting database, seconds.
const AUDIT_BATCH_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// What the deadline worker runs (the `pass` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerPass {
    /// Escalations, deadline breaches and automatic closes (督办).
    Deadlines,
    /// Deleting ended sessions (once an hour).
    PruneSessions,
    /// Deleting attempts that left every limit's window (every pass).
    PruneAttempts,
    /// Deleting notifications past their retention (once an hour).
    PruneNotifications,
    /// Posting due webhook deliveries (every second or so).
    Webhooks,
}

impl WorkerPass {
    pub const ALL: [Self; 5] = [
        Self::Deadlines,
        Self::PruneSessions,
        Self::PruneAttempts,
        Self::PruneNotifications,
        Self::Webhooks,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Deadlines => "deadlines",
            Self::PruneSessions => "prune_sessions",
            Self::PruneAttempts => "prune_attempts",
            Self::PruneNotifications => "prune_notifications",
            Self::Webhooks => "webhooks",
        }
    }
}

/// One server's metrics. Cloning shares them.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_request_duration: HistogramVec,
    db_pool_connections: IntGaugeVec,
    db_pool_idle_connections: IntGaugeVec,
    db_writer_queue_depth: IntGauge,
    worker_pass_duration: HistogramVec,
    worker_pass_failures: IntCounterVec,
    worker_last_pass: GaugeVec,
    worker_deadline_actions: IntCounterVec,
    webhook_deliveries: IntCounterVec,
    webhook_endpoints_disabled: prometheus::IntCounter,
    limit_rejections: IntCounterVec,
    audit_queue: AuditQueueMetrics,
}

/// The audit queue's metrics (`db::audit_queue`), handed to the queue.
#[derive(Clone)]
pub struct AuditQueueMetrics {
    /// Rows queued and not yet written (or given up on).
    pub depth: IntGauge,
    /// Reads whose row found the queue full, so that they waited for room.
    pub full_waits: IntCounter,
    /// Time to write one batch (its transaction, retries included).
    pub batch_duration: Histogram,
    /// Rows that could not be written.
    pub lost: IntCounter,
}

fn registered<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: Result<C, prometheus::Error>,
) -> Result<C, prometheus::Error> {
    let collector = collector?;
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

impl Metrics {
    /// A fresh registry with every metric registered. Fails only if a name
    /// or label here is malformed or used twice (a programming error).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let r = &registry;
        let request_labels = ["method", "route", "status"];
        Ok(Self {
            http_requests: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "griddesk_http_requests_total",
                        "HTTP requests answered on the API port, by method, route pattern and status.",
                    ),
                    &request_labels,
                ),
            )?,
            http_request_duration: registered(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "griddesk_http_request_duration_seconds",
                        "Time from a request's arrival to its answer's head, by method, route pattern and status.",
                    )
                    .buckets(REQUEST_BUCKETS.to_vec()),
                    &request_labels,
                ),
            )?,
            db_pool_connections: registered(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "griddesk_db_pool_connections",
                        "Connections the database pool holds (busy and idle).",
                    ),
                    &["pool"],
                ),
            )?,
            db_pool_idle_connections: registered(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "griddesk_db_pool_idle_connections",
                        "Idle connections in the database pool.",
                    ),
                    &["pool"],
                ),
            )?,
            db_writer_queue_depth: registered(
                r,
                IntGauge::new(
                    "griddesk_db_writer_queue_depth",
                    "Writes waiting for SQLite's one writer (always 0 on PostgreSQL, whose pool writes).",
                ),
            )?,
            worker_pass_duration: registered(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "griddesk_worker_pass_duration_seconds",
                        "Duration of each deadline-worker pass, failed ones included, by pass.",
                    )
                    .buckets(PASS_BUCKETS.to_vec()),
                    &["pass"],
                ),
            )?,
            worker_pass_failures: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "griddesk_worker_pass_failures_total",
                        "Deadline-worker passes that failed or could not run, by pass.",
                    ),
                    &["pass"],
                ),
            )?,
            worker_last_pass: registered(
                r,
                GaugeVec::new(
                    Opts::new(
                        "griddesk_worker_last_pass_timestamp_seconds",
                        "Unix time at which the last successful deadline-worker pass ended, by pass.",
                    ),
                    &["pass"],
                ),
            )?,
            worker_deadline_actions: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "griddesk_worker_deadline_actions_total",
                        "Tickets the deadline worker escalated, flagged or closed, by action.",
                    ),
                    &["action"],
                ),
            )?,
            webhook_deliveries: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "griddesk_webhook_deliveries_total",
                        "Webhook delivery attempts by outcome: delivered, retrying (failed, tried again later), given_up.",
                    ),
                    &["outcome"],
                ),
            )?,
            webhook_endpoints_disabled: registered(
                r,
                prometheus::IntCounter::new(
                    "griddesk_webhook_endpoints_disabled_total",
                    "Webhook endpoints disabled after failing for the whole retry window.",
                ),
            )?,
            limit_rejections: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "griddesk_limit_rejections_total",
                        "Sign-ins, password changes and registrations refused with 429, by the limit reached.",
                    ),
                    &["limit"],
                ),
            )?,
            audit_queue: AuditQueueMetrics {
                depth: registered(
                    r,
                    IntGauge::new(
                        "griddesk_audit_queue_depth",
                        "Audit rows of reads queued in memory and not yet written.",
                    ),
                )?,
                full_waits: registered(
                    r,
                    IntCounter::new(
                        "griddesk_audit_queue_full_waits_total",
                        "Reads whose audit row found the queue full and waited for room.",
                    ),
                )?,
                batch_duration: registered(
                    r,
                    Histogram::with_opts(
                        HistogramOpts::new(
                            "griddesk_audit_queue_batch_duration_seconds",
                            "Time to write one batch of queued audit rows.",
                        )
                        .buckets(AUDIT_BATCH_BUCKETS.to_vec()),
                    ),
                )?,
                lost: registered(
                    r,
                    IntCounter::new(
                        "griddesk_audit_rows_lost_total",
                        "Queued audit rows that could not be written (each is logged).",
                    ),
                )?,
            },
            registry,
        })
    }

    /// The audit queue's metrics, for [`crate::db::audit_queue::AuditQueue`].
    pub fn audit_queue(&self) -> &AuditQueueMetrics {
        &self.audit_queue
    }

    /// Counts one answered request. `route` is a pattern or [`UNMATCHED`].
    pub fn observe_request(&self, method: &Method, route: &str, status: u16, took: Duration) {
        let status = status.to_string();
        let labels = [method_label(method), route, status.as_str()];
        self.http_requests.with_label_values(&labels).inc();
        self.http_request_duration
            .with_label_values(&labels)
            .observe(took.as_secs_f64());
    }

    /// Records one worker pass: how long it took and, when it succeeded,
    /// when it ended (an operator alerts when that falls too far behind).
    pub fn observe_pass(&self, pass: WorkerPass, took: Duration, succeeded: bool, ended_at: DateTime<Utc>) {
        let label = [pass.label()];
        self.worker_pass_duration
            .with_label_values(&label)
            .observe(took.as_secs_f64());
        if succeeded {
            let at = ended_at.timestamp_millis() as f64 / 1000.0;
            self.worker_last_pass.with_label_values(&label).set(at);
        } else {
            self.worker_pass_failures.with_label_values(&label).inc();
        }
    }

    /// Counts what a deadline pass did.
    pub fn count_deadline_actions(&self, report: &Report) {
        for (action, count) in deadline_actions(report) {
            self.worker_deadline_actions
                .with_label_values(&[action])
                .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
        }
    }

    /// Counts what a webhook delivery pass did.
    pub fn count_webhook_deliveries(&self, report: &crate::webhooks::Report) {
        for (outcome, count) in [
            ("delivered", report.delivered),
            ("retrying", report.retrying),
            ("given_up", report.given_up),
        ] {
            self.webhook_deliveries
                .with_label_values(&[outcome])
                .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
        }
        self.webhook_endpoints_disabled
            .inc_by(u64::try_from(report.disabled).unwrap_or(u64::MAX));
    }

    /// Shows the worker's counters at 0 from its start, so a rate over them
    /// works before the first failure or escalation (a process that runs no
    /// worker shows none of its series).
    pub fn worker_started(&self) {
        for pass in WorkerPass::ALL {
            self.worker_pass_failures.with_label_values(&[pass.label()]);
        }
        for (action, _) in deadline_actions(&Report::default()) {
            self.worker_deadline_actions.with_label_values(&[action]);
        }
    }

    /// The counter of refusals by limit, for [`crate::limits::Limits`].
    pub fn limit_rejections(&self) -> &IntCounterVec {
        &self.limit_rejections
    }

    /// The gauge of writes waiting for the database writer.
    pub fn db_writer_queue_depth(&self) -> &IntGauge {
        &self.db_writer_queue_depth
    }

    /// The text format of every metric, with the pool gauges read now.
    pub fn render(&self, db: &Db) -> Result<String, prometheus::Error> {
        for (pool, state) in db.pool_status() {
            self.db_pool_connections
                .with_label_values(&[pool])
                .set(i64::from(state.connections));
            self.db_pool_idle_connections
                .with_label_values(&[pool])
                .set(i64::from(state.idle_connections));
        }
        self.db_writer_queue_depth
            .set(i64::try_from(db.writer_queue_depth()).unwrap_or(i64::MAX));
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

fn deadline_actions(report: &Report) -> [(&'static str, usize); 6] {
    [
        ("escalated", report.escalated),
        ("accept_breach", report.accept_breaches),
        ("resolve_breach", report.resolve_breaches),
        ("closed", report.closed),
        ("warned", report.warnings),
        ("follow_up_due", report.follow_ups_due),
    ]
}

/// The method as a label: the standard ones by name, any other as `other`,
/// so invented methods cannot add series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware (outermost on the API's App): counts every request and its
/// latency under its route pattern, whatever answered it.
pub async fn track_requests(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().clone();
    // The pattern from the app's resource map: known before routing, so an
    // error that never became a response is counted under it too.
    let route = req.match_pattern();
    let result = next.call(req).await;
    if let Some(state) = state {
        let status = match &result {
            Ok(res) => res.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        state.metrics.observe_request(
            &method,
            route.as_deref().unwrap_or(UNMATCHED),
            status.as_u16(),
            started.elapsed(),
        );
    }
    result
}

/// What the metrics listener reaches: the metrics and, for the pool
/// gauges, the database handle; nothing of the API's state.
pub struct Scrape {
    pub metrics: Metrics,
    pub db: Db,
}

/// `GET /metrics`: the Prometheus text format.
pub async fn scrape(scrape: web::Data<Scrape>) -> HttpResponse {
    match scrape.metrics.render(&scrape.db) {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Err(error) => {
            tracing::error!(%error, "cannot render the metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(method_label(&Method::from_bytes(b"TRACE").unwrap()), "other");
    }

    #[test]
    fn every_metric_registers_once() {
        let metrics = Metrics::new().unwrap();
        metrics.observe_request(&Method::GET, "/api/v1/tickets/{id}", 404, Duration::from_millis(3));
        let families = metrics.registry.gather();
        assert!(
            families
                .iter()
                .any(|f| f.name() == "griddesk_http_request_duration_seconds")
        );
        // A second registry is independent: no process-wide state.
        assert!(Metrics::new().is_ok());
        let audit = metrics.audit_queue();
        audit.depth.add(3);
        audit.full_waits.inc();
        let text = TextEncoder::new().encode_to_string(&metrics.registry.gather()).unwrap();
        assert!(text.contains("griddesk_audit_queue_depth 3"), "{text}");
        assert!(text.contains("griddesk_audit_queue_full_waits_total 1"), "{text}");
    }
}
