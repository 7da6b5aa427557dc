//! Signed-in callers, remembered for a moment: every request with a token
//! needs its session checked and its account and posts loaded, which cost a
//! trip to the blocking pool and two queries each time.
//!
//! Staleness is bounded: an entry lives [`TTL`]. In this process, any
//! change to accounts, posts, units or sessions (a write under `/auth`,
//! `/me`, `/users`, `/posts` or `/units`) forgets every entry before its
//! answer is sent, so a sign-out or a removed post takes effect at once
//! here; on other replicas it takes effect within [`TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::web;

use crate::db::models::{PostRow, UnitRow, UserRow};
use crate::state::AppState;

/// How long another replica's change may go unseen here.
pub const TTL: Duration = Duration::from_secs(2);
/// Entries kept at most; past it the cache starts again empty.
const CAPACITY: usize = 20_000;

/// What a session's lookup found: the account and its posts with their units.
pub type Signed = (UserRow, Vec<(PostRow, UnitRow)>);

#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<(String, i64), (Instant, Signed)>>,
    /// Bumped by every [`SessionCache::forget_all`]: a lookup that began
    /// before a change is not stored after it.
    generation: AtomicU64,
}

impl SessionCache {
    /// The generation to pass to [`SessionCache::put`] for a lookup
    /// starting now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, session_id: &str, user_id: i64) -> Option<Signed> {
        let entries = self.entries.lock().ok()?;
        let (at, signed) = entries.get(&(session_id.to_owned(), user_id))?;
        (at.elapsed() < TTL).then(|| signed.clone())
    }

    /// Stores a lookup unless something changed since `generation`.
    pub fn put(&self, generation: u64, session_id: String, user_id: i64, signed: Signed) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert((session_id, user_id), (Instant::now(), signed));
    }

    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// Paths whose writes can change who a caller is or what they may do.
const ACCOUNT_PATHS: [&str; 5] = [
    "/api/v1/auth/",
    "/api/v1/me",
    "/api/v1/users",
    "/api/v1/posts",
    "/api/v1/units",
];

/// Middleware: after a write to accounts, posts, units or sessions (and
/// before its answer leaves), every remembered caller is forgotten, and so
/// are the units and reporters readers remember (`db::row_cache`).
pub async fn forget_after_account_writes(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let account_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && ACCOUNT_PATHS.iter().any(|p| req.path().starts_with(p));
    let state = account_write
        .then(|| req.app_data::<web::Data<AppState>>().cloned())
        .flatten();
    let res = next.call(req).await;
    if let Some(state) = state {
        state.sessions.forget_all();
        state.caches.units.forget();
        state.caches.reporters.forget();
    }
    res
}
