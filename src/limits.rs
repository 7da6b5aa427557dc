//! Limits on abuse that a database constraint cannot express: failed
//! sign-ins per account and per client address (password guessing and
//! credential stuffing). Kept in memory, per process: with several replicas
//! each one counts on its own, so the effective limit is the per-process
//! figure times the replicas behind the balancer.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{Duration, NaiveDateTime};

/// At most `limit` events per key within any `window`.
pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    events: Mutex<HashMap<String, VecDeque<NaiveDateTime>>>,
}

/// Keys kept before old ones are swept, so a flood of distinct keys cannot
/// grow the map without bound.
const SWEEP_AT: usize = 10_000;

impl SlidingWindow {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            events: Mutex::new(HashMap::new()),
        }
    }

    /// `None` while `key` is under its limit; otherwise the seconds until
    /// its oldest event leaves the window.
    pub fn blocked_for(&self, key: &str, now: NaiveDateTime) -> Option<u64> {
        let mut events = self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let times = events.get_mut(key)?;
        self.forget_old(times, now);
        if times.len() < self.limit {
            return None;
        }
        let oldest = *times.front()?;
        let wait = (oldest + self.window - now).num_seconds().max(1);
        Some(u64::try_from(wait).unwrap_or(1))
    }

    /// Takes one of `key`'s places in the window before the attempt is
    /// judged, or answers the seconds to wait. Checking and counting happen
    /// under one lock, so a burst of attempts sent at once gets exactly the
    /// limit through, however many run in parallel. The place is given back
    /// when the [`Attempt`] is dropped, unless the attempt failed
    /// ([`Attempt::keep`]).
    pub fn reserve<'a>(&'a self, key: &str, now: NaiveDateTime) -> Result<Attempt<'a>, u64> {
        let mut events = self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let times = self.current(&mut events, key, now);
        if times.len() >= self.limit {
            let wait = times
                .front()
                .map_or(1, |oldest| (*oldest + self.window - now).num_seconds().max(1));
            return Err(u64::try_from(wait).unwrap_or(1));
        }
        times.push_back(now);
        Ok(Attempt {
            window: self,
            key: key.to_owned(),
            at: now,
            kept: false,
        })
    }

    /// Counts one event for `key`.
    pub fn record(&self, key: &str, now: NaiveDateTime) {
        let mut events = self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let times = self.current(&mut events, key, now);
        times.push_back(now);
    }

    /// Forgets `key`'s events (a successful sign-in clears its account's failures).
    pub fn clear(&self, key: &str) {
        let mut events = self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        events.remove(key);
    }

    /// `key`'s events still inside the window, swept of old keys first when
    /// the map has grown.
    fn current<'m>(
        &self,
        events: &'m mut HashMap<String, VecDeque<NaiveDateTime>>,
        key: &str,
        now: NaiveDateTime,
    ) -> &'m mut VecDeque<NaiveDateTime> {
        if events.len() >= SWEEP_AT {
            let window = self.window;
            events.retain(|_, times| times.back().is_some_and(|t| *t > now - window));
        }
        let times = events.entry(key.to_owned()).or_default();
        self.forget_old(times, now);
        times
    }

    fn forget_old(&self, times: &mut VecDeque<NaiveDateTime>, now: NaiveDateTime) {
        while times.front().is_some_and(|t| *t <= now - self.window) {
            times.pop_front();
        }
    }
}

/// A place taken in a [`SlidingWindow`] for an attempt being judged.
pub struct Attempt<'a> {
    window: &'a SlidingWindow,
    key: String,
    at: NaiveDateTime,
    kept: bool,
}

impl Attempt<'_> {
    /// The attempt failed: it stays counted.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let mut events = self
            .window
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(times) = events.get_mut(&self.key)
            && let Some(at) = times.iter().rposition(|t| *t == self.at)
        {
            times.remove(at);
        }
    }
}

/// Failed sign-ins allowed per account within [`LOGIN_WINDOW_MINUTES`].
pub const LOGIN_FAILURES_PER_ACCOUNT: usize = 5;
/// Failed sign-ins allowed per client address within [`LOGIN_WINDOW_MINUTES`]
/// (generous: a community office may put many residents behind one address).
pub const LOGIN_FAILURES_PER_ADDRESS: usize = 30;
pub const LOGIN_WINDOW_MINUTES: i64 = 15;
/// Tickets a resident may file themselves per hour.
pub const FILINGS_PER_HOUR: i64 = 10;

/// The sign-in limits of one process.
pub struct LoginLimits {
    pub accounts: SlidingWindow,
    pub addresses: SlidingWindow,
}

impl LoginLimits {
    /// The limits with `per_address` failures allowed per client address.
    pub fn with_per_address(per_address: usize) -> Self {
        let window = Duration::minutes(LOGIN_WINDOW_MINUTES);
        Self {
            accounts: SlidingWindow::new(LOGIN_FAILURES_PER_ACCOUNT, window),
            addresses: SlidingWindow::new(per_address, window),
        }
    }
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self::with_per_address(LOGIN_FAILURES_PER_ADDRESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default()
            + Duration::minutes(minutes)
    }

    #[test]
    fn a_key_is_blocked_at_its_limit_until_its_oldest_event_leaves_the_window() {
        let w = SlidingWindow::new(3, Duration::minutes(10));
        for minute in 0..3 {
            assert_eq!(w.blocked_for("a", at(minute)), None);
            w.record("a", at(minute));
        }
        assert_eq!(w.blocked_for("a", at(3)), Some(7 * 60));
        assert_eq!(w.blocked_for("b", at(3)), None, "keys are counted apart");
        assert_eq!(w.blocked_for("a", at(10)), None, "the first event has left the window");
        w.record("a", at(10));
        assert_eq!(w.blocked_for("a", at(10)), Some(60));
        w.clear("a");
        assert_eq!(w.blocked_for("a", at(10)), None);
    }

    #[test]
    fn attempts_take_places_before_they_are_judged() {
        let w = SlidingWindow::new(2, Duration::minutes(10));
        let first = w.reserve("a", at(0)).expect("a place");
        let second = w.reserve("a", at(0)).expect("a place");
        assert_eq!(
            w.reserve("a", at(0)).err(),
            Some(600),
            "both places are taken in flight"
        );
        drop(first);
        let third = w.reserve("a", at(1)).expect("a place given back");
        second.keep();
        third.keep();
        assert_eq!(w.reserve("a", at(2)).err(), Some(8 * 60), "two failures are counted");
        assert_eq!(w.blocked_for("a", at(2)), Some(8 * 60));
        assert!(w.reserve("b", at(2)).is_ok(), "keys are counted apart");
    }

    #[test]
    fn old_keys_are_swept_when_the_map_grows() {
        let w = SlidingWindow::new(1, Duration::minutes(1));
        for i in 0..SWEEP_AT {
            w.record(&i.to_string(), at(0));
        }
        w.record("late", at(5));
        let events = w.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        assert_eq!(events.len(), 1);
    }
}
