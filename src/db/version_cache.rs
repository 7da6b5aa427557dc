//! What a ticket had at one version, remembered by readers per version:
//! exact, never stale, so no TTL and nothing to forget. Used for the units
//! each ticket has been at and for a dispute's parties.
//!
//! Rows of both are only ever added, never changed or removed, and only
//! with a new version of their ticket in the same transaction: a filing
//! writes them with the ticket; a lifecycle step arriving at a unit
//! (`service::lifecycle::arrive`) raises the version like every step
//! (`domain::lifecycle`: what every step changes), and so does adding a
//! party (`service::mediation::add_party`). So what a ticket had at version
//! `v` is the same for every reader, on every replica, for good; a reader
//! holding a newer version misses and reads it. On PostgreSQL a read's
//! statements may see different commits, so an entry may also hold a row
//! added just after `v`: only readers still holding `v` in flight can be
//! served it, and it is what the ticket has now.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use diesel::QueryResult;

use super::AnyConnection;

/// Tickets held at most: more are dropped with the rest at once (a page
/// needs 25; the newest few thousand tickets are what most pages show). A
/// dispute's parties hold names and phones, a few hundred bytes a dispute:
/// at most a few MiB.
const CAPACITY: usize = 20_000;

/// A ticket's version and its rows at that version.
type Entry<T> = (i64, Arc<[T]>);

/// Rows by ticket id, each with the version they belong to.
pub struct VersionCache<T> {
    entries: RwLock<HashMap<i64, Entry<T>>>,
}

impl<T> Default for VersionCache<T> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
        }
    }
}

impl<T> VersionCache<T> {
    /// What each of `tickets` (id, version) has, in the order `load` gives
    /// it (none for a ticket it gives nothing): held entries of the same
    /// version, the others read with `load` ((ticket id, row) pairs) in one
    /// query.
    pub fn of(
        &self,
        conn: &mut AnyConnection,
        tickets: &[(i64, i64)],
        load: impl FnOnce(&mut AnyConnection, &[i64]) -> QueryResult<Vec<(i64, T)>>,
    ) -> QueryResult<HashMap<i64, Arc<[T]>>> {
        let mut found = HashMap::with_capacity(tickets.len());
        let mut missing = Vec::new();
        match self.entries.read() {
            Ok(entries) => {
                for (id, version) in tickets {
                    match entries.get(id) {
                        Some((held, units)) if held == version => {
                            found.insert(*id, units.clone());
                        }
                        _ => missing.push(*id),
                    }
                }
            }
            Err(_) => missing.extend(tickets.iter().map(|(id, _)| *id)),
        }
        if missing.is_empty() {
            return Ok(found);
        }
        missing.sort_unstable();
        missing.dedup();
        let mut loaded: HashMap<i64, Vec<T>> = missing.iter().map(|id| (*id, Vec::new())).collect();
        for (ticket, row) in load(conn, &missing)? {
            if let Some(rows) = loaded.get_mut(&ticket) {
                rows.push(row);
            }
        }
        let loaded: Vec<(i64, Arc<[T]>)> = loaded.into_iter().map(|(id, rows)| (id, rows.into())).collect();
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() + loaded.len() > CAPACITY {
                entries.clear();
            }
            for (id, rows) in &loaded {
                if let Some((_, version)) = tickets.iter().find(|(ticket, _)| ticket == id) {
                    entries.insert(*id, (*version, rows.clone()));
                }
            }
        }
        found.extend(loaded);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn conn() -> AnyConnection {
        use diesel::Connection;
        AnyConnection::Sqlite(diesel::SqliteConnection::establish(":memory:").expect("an in-memory database"))
    }

    #[test]
    fn a_version_is_read_once_and_a_newer_one_read_again() {
        let cache = VersionCache::default();
        let mut conn = conn();
        let reads = Cell::new(0);
        let load = |visits: Vec<(i64, i64)>| {
            let reads = &reads;
            move |_: &mut AnyConnection, ids: &[i64]| {
                reads.set(reads.get() + 1);
                Ok(visits.into_iter().filter(|(t, _)| ids.contains(t)).collect())
            }
        };
        let first = cache
            .of(&mut conn, &[(1, 3), (2, 1)], load(vec![(1, 10), (1, 11), (2, 10)]))
            .unwrap();
        assert_eq!(&*first[&1], &[10, 11]);
        assert_eq!(&*first[&2], &[10]);
        assert_eq!(reads.get(), 1);
        // The same versions: nothing read.
        let again = cache.of(&mut conn, &[(1, 3), (2, 1)], load(vec![])).unwrap();
        assert_eq!(&*again[&1], &[10, 11]);
        assert_eq!(reads.get(), 1);
        // Ticket 1 moved on (version 4, a new unit): only it is read again.
        let moved = cache
            .of(
                &mut conn,
                &[(1, 4), (2, 1)],
                load(vec![(1, 10), (1, 11), (1, 12), (2, 99)]),
            )
            .unwrap();
        assert_eq!(&*moved[&1], &[10, 11, 12]);
        assert_eq!(&*moved[&2], &[10]);
        assert_eq!(reads.get(), 2);
        // A ticket with nothing is remembered as such.
        let none = cache.of(&mut conn, &[(5, 1)], load(vec![])).unwrap();
        assert!(none[&5].is_empty());
        cache.of(&mut conn, &[(5, 1)], load(vec![])).unwrap();
        assert_eq!(reads.get(), 3);
    }
}
