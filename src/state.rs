//! What every request handler can reach.

use chrono::Duration;

use crate::auth::jwt::JwtKeys;
use crate::clock::Clock;
use crate::db::Db;

pub struct AppState {
    pub db: Db,
    pub jwt: JwtKeys,
    pub clock: Clock,
    /// How long a refresh token (and so an idle session) lives.
    pub refresh_ttl: Duration,
}
