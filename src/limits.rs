//! Limits on abuse that a database constraint cannot express: failed
//! sign-ins per account and per client address (password guessing and
//! credential stuffing), wrong current passwords per account, and
//! registrations per client address.
//!
//! Counted in the database (`limit_attempts`), so replicas on one database
//! share the counts. An attempt takes its place before it is judged, in one
//! write transaction that locks the key, counts its attempts within the
//! window and inserts the new one (or answers the seconds to wait): a burst
//! gets exactly the allowance however it is spread over replicas. A success
//! gives its place back; a failure, a crash or any error in between leaves
//! it counted. Keys are stored as a keyed SHA-256, never as usernames or
//! addresses.

use chrono::{Duration, NaiveDateTime};
use prometheus::{IntCounter, IntCounterVec};
use sha2::{Digest, Sha256};

use crate::db::{AnyConnection, Db, attempts};
use crate::error::ApiError;

/// Failed sign-ins allowed per account within [`LOGIN_WINDOW_MINUTES`].
pub const LOGIN_FAILURES_PER_ACCOUNT: u32 = 5;
/// Failed sign-ins allowed per client address within [`LOGIN_WINDOW_MINUTES`]
/// (generous: a community office may put many residents behind one address).
pub const LOGIN_FAILURES_PER_ADDRESS: u32 = 30;
pub const LOGIN_WINDOW_MINUTES: i64 = 15;
/// Registrations allowed per client address within [`REGISTRATION_WINDOW_MINUTES`].
pub const REGISTRATIONS_PER_ADDRESS: u32 = 10;
pub const REGISTRATION_WINDOW_MINUTES: i64 = 60;
/// Attempts older than this count for no limit and may be deleted.
pub const LONGEST_WINDOW_MINUTES: i64 = REGISTRATION_WINDOW_MINUTES;
/// Tickets a resident may file themselves per hour.
pub const FILINGS_PER_HOUR: i64 = 10;

/// At most `allowed` attempts per key of `scope` within any `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Names what is counted (stored with each attempt).
    pub scope: &'static str,
    pub allowed: u32,
    pub window: Duration,
}

/// One key of one limit, hashed: what a reservation counts against.
#[derive(Debug, Clone)]
pub struct Key {
    limit: Limit,
    hash: String,
    /// Counts this limit's refusals (`griddesk_limit_rejections_total`).
    refused: IntCounter,
}

/// The limits of this process. The allowances are settings (each replica
/// applies its own); the counts are shared through the database.
#[derive(Clone)]
pub struct Limits {
    /// Failed sign-ins per account, by the username as typed (case-folded).
    pub sign_in_account: Limit,
    /// Failed sign-ins per client address.
    pub sign_in_address: Limit,
    /// Wrong current passwords per account on `POST /me/password`.
    pub password_change: Limit,
    /// Registrations per client address.
    pub registration_address: Limit,
    /// Keys the hashes, so a stored hash of an address or a username cannot
    /// be reversed by trying every address or a list of names.
    pepper: [u8; 32],
    /// Refusals by limit (the scope), for the metrics.
    refusals: IntCounterVec,
}

impl Limits {
    /// The default allowances, with key hashes derived from `secret` (the
    /// JWT secret: the same on every replica), counting refusals in `metrics`.
    pub fn new(secret: &[u8], metrics: &crate::metrics::Metrics) -> Self {
        let mut pepper = Sha256::new();
        pepper.update(b"griddesk limit keys\0");
        pepper.update(secret);
        let login_window = Duration::minutes(LOGIN_WINDOW_MINUTES);
        let limits = Self {
            sign_in_account: Limit {
                scope: "sign_in_account",
                allowed: LOGIN_FAILURES_PER_ACCOUNT,
                window: login_window,
            },
            sign_in_address: Limit {
                scope: "sign_in_address",
                allowed: LOGIN_FAILURES_PER_ADDRESS,
                window: login_window,
            },
            password_change: Limit {
                scope: "password_change",
                allowed: LOGIN_FAILURES_PER_ACCOUNT,
                window: login_window,
            },
            registration_address: Limit {
                scope: "registration_address",
                allowed: REGISTRATIONS_PER_ADDRESS,
                window: Duration::minutes(REGISTRATION_WINDOW_MINUTES),
            },
            pepper: pepper.finalize().into(),
            refusals: metrics.limit_rejections().clone(),
        };
        // Every limit's count shows from the start, at 0.
        for limit in [
            limits.sign_in_account,
            limits.sign_in_address,
            limits.password_change,
            limits.registration_address,
        ] {
            limits.refusals.with_label_values(&[limit.scope]);
        }
        limits
    }

    /// `raw` as a key of `limit`.
    pub fn key(&self, limit: Limit, raw: &str) -> Key {
        let mut hash = Sha256::new();
        hash.update(self.pepper);
        hash.update(limit.scope.as_bytes());
        hash.update([0]);
        hash.update(raw.as_bytes());
        Key {
            limit,
            hash: hex::encode(hash.finalize()),
            refused: self.refusals.with_label_values(&[limit.scope]),
        }
    }
}

/// Places taken by [`reserve`]. Dropping it (or [`Reservation::keep`])
/// leaves the attempts counted; [`Reservation::give_back`] undoes them.
#[must_use = "a reservation is given back or kept"]
#[derive(Debug)]
pub struct Reservation {
    ids: Vec<i64>,
}

/// Takes one place for each of `keys` inside the caller's write
/// transaction, or answers the seconds until all of them have room. Either
/// every key gets its place or none does. Keys are locked in a fixed order,
/// so two reservations cannot wait for each other.
pub fn reserve(
    conn: &mut AnyConnection,
    keys: &[Key],
    now: NaiveDateTime,
) -> Result<Result<Reservation, u64>, ApiError> {
    let mut ordered: Vec<&Key> = keys.iter().collect();
    ordered.sort_by(|a, b| a.hash.cmp(&b.hash));
    for key in &ordered {
        attempts::lock_key(conn, &key.hash)?;
    }
    // In the caller's order: the first limit reached is the one answered.
    for key in keys {
        let Limit { scope, allowed, window } = key.limit;
        attempts::delete_key(conn, scope, &key.hash, Some(now - window))?;
        if let Some(at) = attempts::limit_reached_by(conn, scope, &key.hash, allowed, now - window)? {
            // Refused: counted under the limit reached (never the key).
            key.refused.inc();
            let wait = (at + window - now).num_seconds().max(1);
            return Ok(Err(u64::try_from(wait).unwrap_or(1)));
        }
    }
    let mut ids = Vec::with_capacity(keys.len());
    for key in keys {
        ids.push(attempts::insert(conn, key.limit.scope, &key.hash, now)?);
    }
    Ok(Ok(Reservation { ids }))
}

/// [`reserve`] in a write transaction of its own. Counting is bookkeeping,
/// not the request's change: these writes never carry its audit row.
pub async fn reserve_in(db: &Db, keys: Vec<Key>, now: NaiveDateTime) -> Result<Result<Reservation, u64>, ApiError> {
    db.write_unaudited(move |conn| reserve(conn, &keys, now)).await
}

impl Reservation {
    /// The attempt failed (or was made): it stays counted.
    pub fn keep(self) {}

    /// The attempt was never judged (the server was too busy): its places
    /// go back.
    pub async fn give_back(self, db: &Db) -> Result<(), ApiError> {
        db.write_unaudited(move |conn| Ok(attempts::delete_ids(conn, &self.ids)?))
            .await?;
        Ok(())
    }

    /// The attempt succeeded: its places go back, and `clear`'s earlier
    /// failures are forgotten (a successful sign-in clears its account's).
    pub async fn succeeded(self, db: &Db, clear: Key) -> Result<(), ApiError> {
        db.write_unaudited(move |conn| {
            attempts::delete_ids(conn, &self.ids)?;
            attempts::delete_key(conn, clear.limit.scope, &clear.hash, None)?;
            Ok(())
        })
        .await
    }
}

/// Deletes attempts older than the longest window, in batches; returns how
/// many went. Run by the deadline worker, so a flood of distinct keys
/// cannot grow the table beyond what one window holds.
pub fn prune(db: &Db, now: NaiveDateTime) -> Result<usize, ApiError> {
    let before = now - Duration::minutes(LONGEST_WINDOW_MINUTES);
    let mut pruned = 0;
    // Bounded: a pass deletes at most 100 batches; the rest waits for the next.
    for _ in 0..100 {
        let deleted = db.write_blocking(move |conn| Ok(attempts::prune(conn, before, 1000)?))?;
        pruned += deleted;
        if deleted < 1000 {
            break;
        }
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hashed_apart_by_scope_and_secret() {
        let metrics = crate::metrics::Metrics::new().unwrap();
        let limits = Limits::new(b"secret one", &metrics);
        let account = limits.key(limits.sign_in_account, "resident01");
        assert_eq!(account.hash.len(), 64);
        assert!(!account.hash.contains("resident01"));
        assert_eq!(account.hash, limits.key(limits.sign_in_account, "resident01").hash);
        assert_ne!(account.hash, limits.key(limits.password_change, "resident01").hash);
        assert_ne!(account.hash, limits.key(limits.sign_in_account, "resident02").hash);
        let other = Limits::new(b"secret two", &metrics);
        assert_ne!(account.hash, other.key(other.sign_in_account, "resident01").hash);
    }
}
