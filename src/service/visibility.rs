//! Who may read a ticket: the facts policy needs, loaded for a whole page of
//! tickets in a few queries (never one query per ticket), and the check.
//! Rendering what the caller may see is the API's job (`api::tickets::view`).

use std::collections::HashMap;

use std::sync::Arc;

use crate::db::AnyConnection;
use crate::db::PinnedCaches;
use crate::db::category_cache::Catalogue;
use crate::db::models::UnitPlaceRow as UnitPlace;

/// A unit a ticket has been at, shared with the readers' cache.
type Place = Arc<UnitPlace>;
use crate::db::models::{CategoryRow, PartyRow, ReporterRow, TicketRow, UnitPlaceRow, UnitRow, UserRow};
use crate::db::tickets as db;
use crate::domain::ticket::Kind;
use crate::error::ApiError;
use crate::policy::Caller;
use crate::policy::tickets::{self as policy, HiddenReporter, TicketFacts};

/// What it takes to show tickets to a caller, loaded in a few queries for a
/// whole page (never one query per ticket).
pub struct TicketContext {
    pub(crate) categories: Catalogue,
    pub(crate) visits: HashMap<i64, Vec<Place>>,
    pub(crate) users: HashMap<i64, Arc<ReporterRow>>,
    pub(crate) parties: HashMap<i64, Arc<[PartyRow]>>,
}

fn category_ids(rows: &[TicketRow]) -> Vec<i64> {
    let mut ids: Vec<i64> = rows.iter().map(|t| t.category_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn ticket_ids(rows: &[TicketRow]) -> Vec<i64> {
    rows.iter().map(|t| t.id).collect()
}

fn reporter_ids(rows: &[TicketRow]) -> Vec<i64> {
    let mut ids: Vec<i64> = rows.iter().map(|t| t.reporter_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

impl TicketContext {
    /// For a write: everything read in the caller's transaction.
    pub fn load(conn: &mut AnyConnection, rows: &[TicketRow]) -> Result<Self, ApiError> {
        let category_ids = category_ids(rows);
        let categories = db::categories_by_ids(conn, &category_ids)?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let mut visits: HashMap<i64, Vec<Place>> = HashMap::new();
        for (ticket_id, unit) in db::visited_units(conn, &ticket_ids(rows))? {
            visits.entry(ticket_id).or_default().push(Arc::new(unit));
        }
        let users = db::reporters_by_ids(conn, &reporter_ids(rows))?
            .into_iter()
            .map(|u| (u.id, Arc::new(u)))
            .collect();
        Self::load_around(conn, rows, Arc::new(categories), visits, users)
    }

    /// For showing tickets: the categories, units and reporters come from
    /// what readers share (`db::category_cache`, `db::row_cache`: a name,
    /// phone or room at most their TTL behind another replica's change, a
    /// unit's place in the grid never), and which tickets were where and a
    /// dispute's parties by version (`db::version_cache`: exact).
    pub fn load_to_show(conn: &mut AnyConnection, rows: &[TicketRow], caches: &PinnedCaches) -> Result<Self, ApiError> {
        let categories = caches.categories(conn, &category_ids(rows))?;
        let versions: Vec<(i64, i64)> = rows.iter().map(|t| (t.id, t.version)).collect();
        let visited = caches.visits(conn, &versions)?;
        let mut unit_ids: Vec<i64> = visited.values().flat_map(|units| units.iter().copied()).collect();
        unit_ids.sort_unstable();
        unit_ids.dedup();
        let places = caches.units(conn, &unit_ids)?;
        let mut visits: HashMap<i64, Vec<Place>> = HashMap::with_capacity(rows.len());
        for (ticket_id, units) in visited {
            let mut at = Vec::with_capacity(units.len());
            for unit_id in units.iter() {
                // A unit is never deleted while a ticket has been at it.
                let place = places.get(unit_id).ok_or_else(|| {
                    ApiError::internal(format!("ticket {ticket_id} was at unit {unit_id}, which is gone"))
                })?;
                at.push(place.clone());
            }
            visits.insert(ticket_id, at);
        }
        let users = caches.reporters(conn, &reporter_ids(rows))?;
        let disputes: Vec<(i64, i64)> = rows
            .iter()
            .filter(|t| t.kind == Kind::Dispute)
            .map(|t| (t.id, t.version))
            .collect();
        let parties = if disputes.is_empty() {
            HashMap::new()
        } else {
            caches.parties(conn, &disputes)?
        };
        Ok(Self {
            categories,
            visits,
            users,
            parties,
        })
    }

    fn load_around(
        conn: &mut AnyConnection,
        rows: &[TicketRow],
        categories: Catalogue,
        visits: HashMap<i64, Vec<Place>>,
        users: HashMap<i64, Arc<ReporterRow>>,
    ) -> Result<Self, ApiError> {
        let dispute_ids: Vec<i64> = rows.iter().filter(|t| t.kind == Kind::Dispute).map(|t| t.id).collect();
        let mut parties: HashMap<i64, Vec<PartyRow>> = HashMap::new();
        if !dispute_ids.is_empty() {
            for party in db::parties_of(conn, &dispute_ids)? {
                parties.entry(party.ticket_id).or_default().push(party);
            }
        }
        let parties = parties.into_iter().map(|(id, ps)| (id, ps.into())).collect();
        Ok(Self {
            categories,
            visits,
            users,
            parties,
        })
    }

    /// The context of a ticket just filed, from the rows filing read and
    /// wrote: its category, the unit it landed at (its only visit), its
    /// reporter and (a dispute) its parties.
    pub fn of_new(
        ticket: &TicketRow,
        category: CategoryRow,
        unit: UnitRow,
        reporter: UserRow,
        parties: Vec<PartyRow>,
    ) -> Self {
        let mut context = Self {
            categories: Arc::new(HashMap::from([(category.id, category)])),
            visits: HashMap::from([(ticket.id, vec![Arc::new(unit.into())])]),
            users: HashMap::from([(reporter.id, Arc::new(reporter.into()))]),
            parties: HashMap::new(),
        };
        if !parties.is_empty() {
            context.parties.insert(ticket.id, parties.into());
        }
        context
    }

    pub(crate) fn current_unit<'a>(&'a self, t: &TicketRow) -> Result<&'a UnitPlaceRow, ApiError> {
        self.visits
            .get(&t.id)
            .and_then(|units| units.iter().find(|u| u.id == t.current_unit_id))
            .map(|unit| &**unit)
            .ok_or_else(|| ApiError::internal(format!("ticket {} has no visit at its current unit", t.id)))
    }

    pub fn visited_paths(&self, t: &TicketRow) -> Vec<String> {
        self.visits
            .get(&t.id)
            .map(|units| units.iter().map(|u| u.path.clone()).collect())
            .unwrap_or_default()
    }

    pub fn party_user_ids(&self, t: &TicketRow) -> Vec<i64> {
        self.parties
            .get(&t.id)
            .map(|ps| ps.iter().filter_map(|p| p.user_id).collect())
            .unwrap_or_default()
    }

    /// Policy facts of one ticket, or 404 when the caller may not read it.
    pub fn readable<'a>(
        &'a self,
        caller: &Caller,
        t: &'a TicketRow,
        visited: &'a [String],
        parties: &'a [i64],
    ) -> Result<TicketFacts<'a>, ApiError> {
        let current = self.current_unit(t)?;
        let facts = TicketFacts {
            reporter_id: t.reporter_id,
            anonymous: t.anonymous,
            current_path: &current.path,
            current_level: current.level,
            visited_paths: visited,
            party_user_ids: parties,
        };
        if policy::can_read(caller, &facts) {
            Ok(facts)
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// The reporter the caller may not be shown (`policy::tickets::hidden_reporter`),
    /// or 404 when the caller may not read the ticket at all.
    pub fn hidden_reporter(&self, caller: &Caller, t: &TicketRow) -> Result<Option<HiddenReporter>, ApiError> {
        let visited = self.visited_paths(t);
        let parties = self.party_user_ids(t);
        let facts = self.readable(caller, t, &visited, &parties)?;
        Ok(policy::hidden_reporter(caller, &facts))
    }

    /// 404 unless the caller may read the ticket.
    pub fn ensure_readable(&self, caller: &Caller, t: &TicketRow) -> Result<(), ApiError> {
        let visited = self.visited_paths(t);
        let parties = self.party_user_ids(t);
        self.readable(caller, t, &visited, &parties).map(drop)
    }
}
