//! Tickets' rows, remembered by readers by version, for the pipelined reads
//! on PostgreSQL (`db::pipeline`: one ticket, pages of unfiltered lists):
//! the read asks for each ticket's version, and only the rows not held at
//! that version are read in full. Sending 26 rows of 39 columns was most
//! of what PostgreSQL did for a page, and decoding them a tenth of the
//! server's work (DEVELOPERS.md, "Measuring").
//!
//! Exact, never stale, so no TTL and nothing to forget: every change anyone
//! sees raises the ticket's version (`domain::lifecycle`: what every step
//! changes; a mediation record and an extension decision do the same), and
//! a row is held under the version it carries itself, so a row read a
//! moment after the page's statement (a newer version) is held as what it
//! is. The one exception is the worker's note of the deadlines it warned
//! of (`accept_warned_due`, `resolve_warned_due`: `tickets::mark_warned`),
//! which moves without a version: a held row may carry an older note. No
//! answer shows it, and the worker reads it in its own transaction.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::models::TicketRow;

/// Bytes of rows held at most: past it, all are dropped at once. The
/// newest pages are what staff open all day. A ticket's row is about a
/// kilobyte, so this holds some 8,000; a description may take 4,000
/// characters (12 kB), so it is counted, not assumed.
const BUDGET: usize = 8 << 20;

/// Ticket rows by id, each at the version it carries.
#[derive(Default)]
pub struct TicketRows {
    entries: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    rows: HashMap<i64, Arc<TicketRow>>,
    /// What `rows` take, as [`weight`] counts it.
    bytes: usize,
}

/// What a held row takes: the row, its text and its place in the map.
fn weight(row: &TicketRow) -> usize {
    let texts = [
        Some(&row.title),
        Some(&row.description),
        row.location.as_ref(),
        row.resolution.as_ref(),
        row.feedback.as_ref(),
        row.referred_to.as_ref(),
        row.outcome.as_ref(),
    ];
    std::mem::size_of::<TicketRow>() + 32 + texts.into_iter().flatten().map(String::capacity).sum::<usize>()
}

impl TicketRows {
    /// The rows held for `listed` (id, version), in its order: `None`
    /// where none is held at that version.
    pub fn at(&self, listed: &[(i64, i64)]) -> Vec<Option<Arc<TicketRow>>> {
        let Ok(entries) = self.entries.read() else {
            return vec![None; listed.len()];
        };
        listed
            .iter()
            .map(|(id, version)| entries.rows.get(id).filter(|row| row.version == *version).cloned())
            .collect()
    }

    /// Holds `rows`, each under its own version (a newer one replaces an
    /// older; an older never replaces a newer).
    pub fn keep<'a>(&self, rows: impl IntoIterator<Item = &'a Arc<TicketRow>>) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        for row in rows {
            if entries
                .rows
                .get(&row.id)
                .is_some_and(|held| held.version >= row.version)
            {
                continue;
            }
            if let Some(old) = entries.rows.remove(&row.id) {
                entries.bytes -= weight(&old);
            }
            let bytes = weight(row);
            if entries.bytes + bytes > BUDGET {
                entries.rows.clear();
                entries.bytes = 0;
            }
            entries.rows.insert(row.id, row.clone());
            entries.bytes += bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ticket::{Kind, Priority, Status};
    use chrono::NaiveDateTime;

    fn row(id: i64, version: i64, title: &str) -> Arc<TicketRow> {
        let at = NaiveDateTime::default();
        Arc::new(TicketRow {
            id,
            kind: Kind::Complaint,
            category_id: 1,
            title: title.into(),
            description: String::new(),
            location: None,
            latitude: None,
            longitude: None,
            anonymous: false,
            priority: Priority::Normal,
            reporter_id: 1,
            filed_by_id: None,
            community_id: 1,
            current_unit_id: 1,
            status: Status::Assigned,
            accept_due_at: at,
            resolve_due_at: at,
            accepted_at: None,
            resolved_at: None,
            closed_at: None,
            resolution: None,
            resolved_unit_id: None,
            rating: None,
            feedback: None,
            bounce_count: 0,
            escalation_count: 0,
            reopen_count: 0,
            arrived_from_unit_id: None,
            merged_into_id: None,
            referred_to: None,
            version,
            created_at: at,
            updated_at: at,
            accept_breached_at: None,
            resolve_breached_at: None,
            outcome: None,
            arrived_at: None,
            accept_warned_due: None,
            resolve_warned_due: None,
        })
    }

    fn titles(held: &[Option<Arc<TicketRow>>]) -> Vec<Option<&str>> {
        held.iter().map(|r| r.as_deref().map(|r| r.title.as_str())).collect()
    }

    #[test]
    fn a_row_is_served_only_at_the_version_it_carries() {
        let rows = TicketRows::default();
        rows.keep([row(1, 3, "three"), row(2, 1, "one")].iter());
        assert_eq!(
            titles(&rows.at(&[(1, 3), (2, 1), (9, 1)])),
            [Some("three"), Some("one"), None]
        );
        // Ticket 1 moved on: its old row is not served for the new version.
        assert_eq!(titles(&rows.at(&[(1, 4)])), [None]);
        rows.keep([row(1, 4, "four")].iter());
        assert_eq!(titles(&rows.at(&[(1, 4), (1, 3)])), [Some("four"), None]);
        // A reader that read an older row late does not put it back.
        rows.keep([row(1, 3, "three")].iter());
        assert_eq!(titles(&rows.at(&[(1, 4), (1, 3)])), [Some("four"), None]);
    }

    #[test]
    fn past_the_budget_everything_is_dropped_at_once() {
        let rows = TicketRows::default();
        // Rows of 12 kB descriptions: the budget is counted in bytes.
        let long = |id| {
            let mut r = row(id, 1, "");
            Arc::make_mut(&mut r).description = "长".repeat(4_000);
            r
        };
        let fit = (BUDGET / weight(&long(0))) as i64;
        assert!((600..700).contains(&fit), "{fit} rows of 12 kB");
        let many: Vec<_> = (0..fit).map(long).collect();
        rows.keep(many.iter());
        assert!(rows.at(&[(0, 1), (fit - 1, 1)]).iter().all(Option::is_some));
        let held = || rows.entries.read().unwrap().bytes;
        assert_eq!(held(), many.len() * weight(&long(0)));
        // A newer version of a held row replaces it: counted once.
        let mut newer = long(0);
        Arc::make_mut(&mut newer).version = 2;
        rows.keep([newer].iter());
        assert_eq!(held(), many.len() * weight(&long(0)));
        // One more is past the budget: all held go, the new one stays.
        rows.keep([long(fit)].iter());
        assert_eq!(titles(&rows.at(&[(0, 2), (fit, 1)])), [None, Some("")]);
        assert_eq!(held(), weight(&long(fit)));
    }
}
