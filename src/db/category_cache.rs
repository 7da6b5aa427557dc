//! The category catalogue, remembered for a moment by readers: every page
//! of tickets and every ticket shown needs its categories' codes and names,
//! which cost a statement per request though they change a few times a year.
//!
//! Staleness is bounded: a snapshot serves for [`TTL`]. A category this
//! process creates or changes is seen at once here (the write forgets the
//! snapshot before its answer is sent, and a read whose transaction began
//! before that keeps nothing: see `row_cache`); another replica's change
//! within [`TTL`]. A category id the snapshot does not hold (created elsewhere a
//! moment ago) loads the catalogue again, so a ticket is never shown
//! without its category. Writes (filing, lifecycle steps) do not use this:
//! they read categories in their own transaction.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use diesel::QueryResult;

use super::AnyConnection;
use super::models::CategoryRow;
use super::tickets::list_categories;

/// How long another replica's change to a category may go unseen here.
pub const TTL: Duration = Duration::from_secs(2);

/// Categories by id.
pub type Catalogue = Arc<HashMap<i64, CategoryRow>>;

#[derive(Default)]
pub struct CategoryCache {
    snapshot: RwLock<Option<(Instant, Catalogue)>>,
    /// Bumped by every [`CategoryCache::forget`]: a load that began before a
    /// change is not kept after it.
    generation: AtomicU64,
}

impl CategoryCache {
    /// The generation to name in [`CategoryCache::with`] and
    /// [`CategoryCache::by_code`]: taken before the read transaction begins.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The catalogue, holding at least the categories `ids` (when they
    /// exist): the snapshot while fresh, else read anew (and kept only if
    /// nothing was forgotten since `generation`).
    pub fn with(&self, conn: &mut AnyConnection, ids: &[i64], generation: u64) -> QueryResult<Catalogue> {
        if let Some(catalogue) = self.fresh()
            && ids.iter().all(|id| catalogue.contains_key(id))
        {
            return Ok(catalogue);
        }
        self.load(conn, generation)
    }

    /// The category with this code, active or not.
    pub fn by_code(&self, conn: &mut AnyConnection, code: &str, generation: u64) -> QueryResult<Option<CategoryRow>> {
        let find = |catalogue: &Catalogue| catalogue.values().find(|c| c.code == code).cloned();
        if let Some(found) = self.fresh().as_ref().and_then(find) {
            return Ok(Some(found));
        }
        Ok(find(&self.load(conn, generation)?))
    }

    /// Called after any write to categories, before its answer is sent.
    pub fn forget(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut snapshot) = self.snapshot.write() {
            *snapshot = None;
        }
    }

    fn fresh(&self) -> Option<Catalogue> {
        let snapshot = self.snapshot.read().ok()?;
        let (at, catalogue) = snapshot.as_ref()?;
        (at.elapsed() < TTL).then(|| catalogue.clone())
    }

    fn load(&self, conn: &mut AnyConnection, generation: u64) -> QueryResult<Catalogue> {
        let loaded_at = Instant::now();
        let catalogue: Catalogue = Arc::new(list_categories(conn, true)?.into_iter().map(|c| (c.id, c)).collect());
        if let Ok(mut snapshot) = self.snapshot.write()
            && self.generation.load(Ordering::Acquire) == generation
        {
            *snapshot = Some((loaded_at, catalogue.clone()));
        }
        Ok(catalogue)
    }
}
