//! The category catalogue and the deadline rules, remembered for a moment:
//! every page of tickets and every ticket shown needs its categories' codes
//! and names, and every filing its category and the rules that set its
//! deadlines, which cost a statement each though they change a few times a
//! year.
//!
//! Staleness is bounded: a snapshot serves for [`TTL`]. A category or rule
//! this process creates or changes is seen at once here (the write forgets
//! the snapshot before its answer is sent, and a read whose transaction
//! began before that keeps nothing: see `row_cache`); another replica's
//! change within [`TTL`]. So for up to [`TTL`] after a change made on
//! another replica, a filing there may still be accepted in a category just
//! switched off, or take its deadlines from the rules before the change. A
//! category id the snapshot does not hold (created elsewhere a moment ago)
//! loads the catalogue again, so a ticket is never shown without its
//! category. Lifecycle steps do not use this: they read the ticket's
//! category and the rules in their own transaction.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use diesel::QueryResult;

use super::AnyConnection;
use super::models::CategoryRow;
use super::tickets::list_categories;

/// How long another replica's change to a category or a deadline rule may
/// go unseen here.
pub const TTL: Duration = Duration::from_secs(2);

/// Categories by id.
pub type Catalogue = Arc<HashMap<i64, CategoryRow>>;

/// One value read from the database, kept for [`TTL`] and forgotten by
/// this process's writes to what it was read from.
pub struct Snapshot<T> {
    held: RwLock<Option<(Instant, Arc<T>)>>,
    /// Bumped by every [`Snapshot::forget`]: a load that began before a
    /// change is not kept after it.
    generation: AtomicU64,
}

impl<T> Default for Snapshot<T> {
    fn default() -> Self {
        Self {
            held: RwLock::new(None),
            generation: AtomicU64::new(0),
        }
    }
}

impl<T> Snapshot<T> {
    /// The generation to name in [`Snapshot::get`]: taken before the read
    /// transaction begins.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The value while fresh, else `read` anew (and kept only if nothing
    /// was forgotten since `generation`).
    pub fn get(
        &self,
        conn: &mut AnyConnection,
        generation: u64,
        read: impl FnOnce(&mut AnyConnection) -> QueryResult<T>,
    ) -> QueryResult<Arc<T>> {
        match self.fresh() {
            Some(value) => Ok(value),
            None => self.load(conn, generation, read),
        }
    }

    /// Called after any write to what the value is read from, before its
    /// answer is sent.
    pub fn forget(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut held) = self.held.write() {
            *held = None;
        }
    }

    fn fresh(&self) -> Option<Arc<T>> {
        let held = self.held.read().ok()?;
        let (at, value) = held.as_ref()?;
        (at.elapsed() < TTL).then(|| value.clone())
    }

    fn load(
        &self,
        conn: &mut AnyConnection,
        generation: u64,
        read: impl FnOnce(&mut AnyConnection) -> QueryResult<T>,
    ) -> QueryResult<Arc<T>> {
        let loaded_at = Instant::now();
        let value = Arc::new(read(conn)?);
        if let Ok(mut held) = self.held.write()
            && self.generation.load(Ordering::Acquire) == generation
        {
            *held = Some((loaded_at, value.clone()));
        }
        Ok(value)
    }
}

/// The catalogue, by id.
#[derive(Default)]
pub struct CategoryCache(Snapshot<HashMap<i64, CategoryRow>>);

impl CategoryCache {
    /// The generation to name in [`CategoryCache::with`] and
    /// [`CategoryCache::by_code`]: taken before the read transaction begins.
    pub fn generation(&self) -> u64 {
        self.0.generation()
    }

    /// The catalogue, holding at least the categories `ids` (when they
    /// exist): the snapshot while fresh, else read anew (and kept only if
    /// nothing was forgotten since `generation`).
    pub fn with(&self, conn: &mut AnyConnection, ids: &[i64], generation: u64) -> QueryResult<Catalogue> {
        if let Some(catalogue) = self.0.fresh()
            && ids.iter().all(|id| catalogue.contains_key(id))
        {
            return Ok(catalogue);
        }
        self.0.load(conn, generation, read_catalogue)
    }

    /// The category with this code, active or not.
    pub fn by_code(&self, conn: &mut AnyConnection, code: &str, generation: u64) -> QueryResult<Option<CategoryRow>> {
        let find = |catalogue: &Catalogue| catalogue.values().find(|c| c.code == code).cloned();
        if let Some(found) = self.0.fresh().as_ref().and_then(find) {
            return Ok(Some(found));
        }
        Ok(find(&self.0.load(conn, generation, read_catalogue)?))
    }

    /// Called after any write to categories, before its answer is sent.
    pub fn forget(&self) {
        self.0.forget();
    }
}

fn read_catalogue(conn: &mut AnyConnection) -> QueryResult<HashMap<i64, CategoryRow>> {
    Ok(list_categories(conn, true)?.into_iter().map(|c| (c.id, c)).collect())
}
