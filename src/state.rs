//! What every request handler can reach.

use chrono::Duration;

use crate::auth::jwt::JwtKeys;
use crate::clock::Clock;
use crate::db::Db;
use crate::limits::LoginLimits;

pub struct AppState {
    pub db: Db,
    pub jwt: JwtKeys,
    pub clock: Clock,
    /// How long a refresh token (and so an idle session) lives.
    pub refresh_ttl: Duration,
    /// Failed sign-ins per account and per client address.
    pub login_limits: LoginLimits,
    /// Serve Swagger UI at `/swagger-ui/` (`--no-swagger` turns it off).
    pub swagger: bool,
    /// Origins allowed to call the API from a browser (CORS); none by default.
    pub cors_origins: Vec<String>,
    /// How long a request body may take to arrive, from when it is first
    /// read; slower ones get 408 (`--body-timeout`).
    pub body_timeout: std::time::Duration,
}
