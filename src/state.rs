//! What every request handler can reach.

use chrono::Duration;

use crate::auth::jwt::JwtKeys;
use crate::auth::password::HashGate;
use crate::clock::Clock;
use crate::db::Db;
use crate::db::audit_queue::AuditQueue;
use crate::limits::Limits;
use crate::metrics::Metrics;

pub struct AppState {
    pub db: Db,
    /// Audit rows written off the request path (admins' reads).
    pub audit: AuditQueue,
    pub jwt: JwtKeys,
    /// Signed-in callers remembered for a moment (see `auth::session_cache`).
    pub sessions: crate::auth::session_cache::SessionCache,
    /// Categories and units readers share for a moment (see
    /// `db::category_cache` and `db::unit_cache`).
    pub caches: std::sync::Arc<crate::db::ReadCaches>,
    pub clock: Clock,
    /// How long a refresh token (and so an idle session) lives.
    pub refresh_ttl: Duration,
    /// Failed sign-ins, wrong current passwords and registrations allowed
    /// (counted in the database, shared by replicas).
    pub limits: Limits,
    /// Every password hash made for a request waits here for its turn.
    pub hash_gate: HashGate,
    /// Serve Swagger UI at `/swagger-ui/` (`--no-swagger` turns it off).
    pub swagger: bool,
    /// Origins allowed to call the API from a browser (CORS); none by default.
    pub cors_origins: Vec<String>,
    /// How long a request body may take to arrive, from when it is first
    /// read; slower ones get 408 (`--body-timeout`).
    pub body_timeout: std::time::Duration,
    /// Where the deployment's people live: date-only filters, calendar
    /// months and CSV times are read in it (`--time-zone`).
    pub time_zone: chrono_tz::Tz,
    /// This server's Prometheus metrics (served only on `--metrics-bind`).
    pub metrics: Metrics,
    /// The notification streams open on this server, and their bounds.
    pub streams: crate::api::notification_stream::Streams,
    /// Which webhook endpoints may be registered (`--webhook-allow-http`,
    /// `--webhook-allow-private`).
    pub webhook_reach: crate::domain::webhooks::Reach,
}
