//! Rows that every page of tickets shows and that rarely change, remembered
//! for a moment by readers: the units each ticket has been at (for who may
//! read it and whether its reporter shows, and the name of the one it is at)
//! and the reporters (name, phone, room). Each cost a statement per request.
//!
//! Who may read what never depends on a stale entry: a unit's level never
//! changes, and its place in the grid (`parent_id`, `path`) can change only
//! while no ticket has ever been at it (`queries::unit_usage` refuses the
//! move otherwise), so a unit a ticket visited keeps its path for good. What
//! may be stale is what is shown: a unit's name, a reporter's name, phone or
//! room. A change this process makes is seen at once here (the write forgets
//! the entries before its answer is sent: `auth::session_cache`'s
//! middleware). A read whose transaction began before that commit keeps
//! nothing it read: it names the generation it began in
//! ([`RowCache::generation`], taken before the transaction begins), and a
//! forget since then bumped it. Another replica's change is seen within
//! [`TTL`]. An id not held (a unit or an account created a moment ago) is
//! read from the database. Writes do not use this: they read in their own
//! transaction.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use diesel::QueryResult;

use super::AnyConnection;

/// How long another replica's change may go unseen here.
pub const TTL: Duration = Duration::from_secs(2);

/// Entries held at most: more are dropped with the rest at once (a district
/// of dozens of communities has tens of thousands of units and residents; a
/// page needs a few dozen).
const CAPACITY: usize = 20_000;

/// A row with its id.
pub trait Keyed {
    fn key(&self) -> i64;
}

/// Rows by id, each shared between the entries and the pages that show it.
pub struct RowCache<T> {
    entries: RwLock<Entries<T>>,
    /// Bumped by every [`RowCache::forget`]: rows read before a change are
    /// not kept after it.
    generation: AtomicU64,
}

struct Entries<T> {
    since: Instant,
    rows: HashMap<i64, Arc<T>>,
}

impl<T> Default for RowCache<T> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(Entries {
                since: Instant::now(),
                rows: HashMap::new(),
            }),
            generation: AtomicU64::new(0),
        }
    }
}

impl<T: Keyed> RowCache<T> {
    /// The generation to name in [`RowCache::rows`]: taken before the read
    /// transaction begins.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The rows `ids` (those that exist), by id: held entries while fresh,
    /// the others read with `load` in one query, and kept only if nothing
    /// was forgotten since `generation`.
    pub fn rows(
        &self,
        conn: &mut AnyConnection,
        ids: &[i64],
        generation: u64,
        load: impl FnOnce(&mut AnyConnection, &[i64]) -> QueryResult<Vec<T>>,
    ) -> QueryResult<HashMap<i64, Arc<T>>> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        match self.entries.read() {
            Ok(entries) if entries.since.elapsed() < TTL => {
                for id in ids {
                    match entries.rows.get(id) {
                        Some(row) => {
                            found.insert(*id, row.clone());
                        }
                        None => missing.push(*id),
                    }
                }
            }
            _ => missing.extend_from_slice(ids),
        }
        if missing.is_empty() {
            return Ok(found);
        }
        missing.sort_unstable();
        missing.dedup();
        let read_at = Instant::now();
        let loaded: Vec<Arc<T>> = load(conn, &missing)?.into_iter().map(Arc::new).collect();
        if let Ok(mut entries) = self.entries.write()
            && self.generation.load(Ordering::Acquire) == generation
        {
            // Entries go together, one TTL after the oldest read among
            // them, so none is ever older than the TTL.
            if entries.since.elapsed() >= TTL || entries.rows.len() + loaded.len() > CAPACITY {
                entries.rows.clear();
                entries.since = read_at;
            }
            for row in &loaded {
                entries.rows.insert(row.key(), row.clone());
            }
        }
        found.extend(loaded.into_iter().map(|row| (row.key(), row)));
        Ok(found)
    }

    /// Called after a write to what the rows show, before its answer is sent.
    pub fn forget(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.write() {
            entries.rows.clear();
            entries.since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    struct Row(i64, &'static str);

    impl Keyed for Row {
        fn key(&self) -> i64 {
            self.0
        }
    }

    #[test]
    fn a_read_that_began_before_a_forget_keeps_nothing() {
        use diesel::Connection;
        let mut conn = AnyConnection::Sqlite(diesel::SqliteConnection::establish(":memory:").expect("a database"));
        let cache: RowCache<Row> = RowCache::default();
        let reads = Cell::new(0);
        let load = |name: &'static str| {
            let reads = &reads;
            move |_: &mut AnyConnection, ids: &[i64]| {
                reads.set(reads.get() + 1);
                Ok(ids.iter().map(|id| Row(*id, name)).collect())
            }
        };
        // A read begins (its generation taken), then a write commits and
        // forgets; the read goes on to load the row as it was before.
        let began = cache.generation();
        cache.forget();
        let old = cache.rows(&mut conn, &[7], began, load("old")).unwrap();
        assert_eq!(old[&7].1, "old");
        // It was not kept: the next read loads the new row, and keeps it.
        let now = cache.generation();
        assert_eq!(cache.rows(&mut conn, &[7], now, load("new")).unwrap()[&7].1, "new");
        assert_eq!(cache.rows(&mut conn, &[7], now, load("unused")).unwrap()[&7].1, "new");
        assert_eq!(reads.get(), 2);
    }
}
