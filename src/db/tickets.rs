//! The SQL of tickets: categories, filing, lists, the timeline, idempotency.

pub mod search;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::AnyConnection;
use super::batch::{self, When};
use super::fragment::{Fragment, LimitedTo, Shapes};
use super::in_ids::by_ids;
use super::models::*;
use super::queries::contains_pattern;
use super::schema::{
    categories, dispute_parties, extension_requests, idempotency_keys, sla_rules, ticket_events, ticket_visits,
    tickets, units, users,
};
use crate::domain::grid::is_server_path;
use crate::error::ApiError;

// ---------------------------------------------------------------- categories

pub fn list_categories(conn: &mut AnyConnection, include_inactive: bool) -> QueryResult<Vec<CategoryRow>> {
    let mut query = categories::table
        .select(CategoryRow::as_select())
        .order(categories::id.asc())
        .into_boxed();
    if !include_inactive {
        query = query.filter(categories::active.eq(true));
    }
    query.load(conn)
}

/// The categories with these ids (those of a page of tickets: never the
/// whole catalogue per request).
pub fn categories_by_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<CategoryRow>> {
    by_ids!(
        conn,
        categories::id,
        ids,
        categories::table.select(CategoryRow::as_select())
    )
}

pub fn find_category(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<CategoryRow>> {
    categories::table
        .find(id)
        .select(CategoryRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_category(conn: &mut AnyConnection, new: &NewCategoryRow<'_>) -> Result<CategoryRow, ApiError> {
    diesel::insert_into(categories::table)
        .values(new)
        .returning(categories::all_columns)
        .get_result(conn)
        .map_err(|error| match error {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::conflict(
                    "category_code_taken",
                    "Another category already uses this code (field `code`).",
                    "该编码（code 字段）已被其他类别使用。",
                )
            }
            other => other.into(),
        })
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = categories)]
pub struct CategoryChanges {
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub entry_level: Option<String>,
    pub accept_hours: Option<i32>,
    pub resolve_hours: Option<i32>,
    pub active: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn update_category(conn: &mut AnyConnection, id: i64, changes: &CategoryChanges) -> QueryResult<CategoryRow> {
    diesel::update(categories::table.find(id))
        .set(changes)
        .returning(categories::all_columns)
        .get_result(conn)
}

// ---------------------------------------------------------------- deadlines

pub fn sla_rules(conn: &mut AnyConnection) -> QueryResult<Vec<SlaRuleRow>> {
    crate::db::each_backend!(conn, |c| {
        sla_rules::table
            .order(sla_rules::id.asc())
            .select(SlaRuleRow::as_select())
            .load(c)
    })
}

/// Replaces every deadline rule at once.
pub fn replace_sla_rules(conn: &mut AnyConnection, rules: &[NewSlaRuleRow]) -> QueryResult<Vec<SlaRuleRow>> {
    diesel::delete(sla_rules::table).execute(conn)?;
    for rule in rules {
        diesel::insert_into(sla_rules::table).values(rule).execute(conn)?;
    }
    sla_rules(conn)
}

/// The deadlines of a ticket arriving now at a unit of `level`.
pub fn arrival_deadlines(
    conn: &mut AnyConnection,
    category: &CategoryRow,
    priority: crate::domain::ticket::Priority,
    level: crate::domain::grid::Level,
    now: NaiveDateTime,
) -> Result<(NaiveDateTime, NaiveDateTime), ApiError> {
    Ok(deadlines_under(&sla_rules(conn)?, category, priority, level, now))
}

/// The deadlines of a ticket arriving at a unit of `level` at `now`, under
/// these rules ([`sla_rules`]).
pub fn deadlines_under(
    rules: &[SlaRuleRow],
    category: &CategoryRow,
    priority: crate::domain::ticket::Priority,
    level: crate::domain::grid::Level,
    now: NaiveDateTime,
) -> (NaiveDateTime, NaiveDateTime) {
    use crate::domain::sla::{Hours, Rule, hours_for};
    let rules: Vec<Rule> = rules
        .iter()
        .map(|r| Rule {
            level: r.level.as_deref().and_then(crate::domain::grid::Level::parse),
            category_id: r.category_id,
            priority: r.priority.as_deref().and_then(crate::domain::ticket::Priority::parse),
            hours: Hours {
                accept: r.accept_hours,
                resolve: r.resolve_hours,
            },
        })
        .collect();
    let catalogue = Hours {
        accept: category.accept_hours,
        resolve: category.resolve_hours,
    };
    let hours = hours_for(&rules, level, category.id, priority, catalogue);
    (
        now + chrono::Duration::hours(i64::from(hours.accept)),
        now + chrono::Duration::hours(i64::from(hours.resolve)),
    )
}

// ---------------------------------------------------------------- extensions

pub fn insert_extension(conn: &mut AnyConnection, new: &NewExtensionRow) -> QueryResult<ExtensionRow> {
    diesel::insert_into(extension_requests::table)
        .values(new)
        .returning(extension_requests::all_columns)
        .get_result(conn)
}

pub fn extensions_of(conn: &mut AnyConnection, ticket_id: i64) -> QueryResult<Vec<ExtensionRow>> {
    extension_requests::table
        .filter(extension_requests::ticket_id.eq(ticket_id))
        .order(extension_requests::id.asc())
        .select(ExtensionRow::as_select())
        .load(conn)
}

pub fn find_extension(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<ExtensionRow>> {
    extension_requests::table
        .find(id)
        .select(ExtensionRow::as_select())
        .first(conn)
        .optional()
}

pub fn decide_extension(
    conn: &mut AnyConnection,
    id: i64,
    status: &str,
    decided_by: i64,
    note: Option<String>,
    now: NaiveDateTime,
) -> QueryResult<ExtensionRow> {
    diesel::update(extension_requests::table.find(id))
        .set((
            extension_requests::status.eq(status),
            extension_requests::decided_by.eq(Some(decided_by)),
            extension_requests::decided_at.eq(Some(now)),
            extension_requests::decision_note.eq(note),
        ))
        .returning(extension_requests::all_columns)
        .get_result(conn)
}

// ---------------------------------------------------------------- tickets

/// The id a new ticket's first event takes: on PostgreSQL drawn by the
/// ticket's own insert, so that the event, and what it tells, can wait for
/// the change's last statement (`batch::defer`) instead of being a round
/// trip that returns its id. SQLite has no round trips to save.
pub struct FirstEvent(Option<i64>);

// A bound name (text casts to `regclass` implicitly), so that the statement
// is prepared once per connection: a literal is parsed and planned each time.
diesel::define_sql_function!(fn nextval(sequence: Text) -> BigInt);

/// Inserts a ticket being filed.
pub fn insert_ticket(conn: &mut AnyConnection, new: NewTicketRow) -> QueryResult<(TicketRow, FirstEvent)> {
    let insert = diesel::insert_into(tickets::table).values(new);
    match conn {
        AnyConnection::Postgres(c) => insert
            .returning((tickets::all_columns, nextval("ticket_events_id_seq")))
            .get_result::<(TicketRow, i64)>(c)
            .map(|(ticket, event_id)| (ticket, FirstEvent(Some(event_id)))),
        AnyConnection::Sqlite(c) => insert
            .returning(tickets::all_columns)
            .get_result(c)
            .map(|ticket| (ticket, FirstEvent(None))),
    }
}

pub fn find_ticket(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<TicketRow>> {
    crate::db::each_backend!(conn, |c| tickets::table
        .find(id)
        .select(TicketRow::as_select())
        .first(c)
        .optional())
}

/// Reads a ticket for a change and keeps others from changing it until the
/// transaction ends (`FOR UPDATE` on PostgreSQL; SQLite's write transaction
/// already holds the only write lock).
pub fn lock_ticket(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<TicketRow>> {
    match conn {
        AnyConnection::Postgres(pg) => tickets::table
            .find(id)
            .select(TicketRow::as_select())
            .for_update()
            .first(pg)
            .optional(),
        AnyConnection::Sqlite(_) => find_ticket(conn, id),
    }
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = tickets)]
pub struct TicketChanges {
    pub status: Option<String>,
    pub current_unit_id: Option<i64>,
    pub accept_due_at: Option<NaiveDateTime>,
    pub resolve_due_at: Option<NaiveDateTime>,
    pub accepted_at: Option<Option<NaiveDateTime>>,
    pub resolved_at: Option<Option<NaiveDateTime>>,
    pub closed_at: Option<Option<NaiveDateTime>>,
    pub resolution: Option<Option<String>>,
    pub resolved_unit_id: Option<Option<i64>>,
    pub rating: Option<Option<i32>>,
    pub feedback: Option<Option<String>>,
    pub bounce_count: Option<i32>,
    pub escalation_count: Option<i32>,
    pub reopen_count: Option<i32>,
    pub arrived_from_unit_id: Option<Option<i64>>,
    pub merged_into_id: Option<Option<i64>>,
    pub referred_to: Option<Option<String>>,
    pub version: Option<i64>,
    pub updated_at: Option<NaiveDateTime>,
    pub accept_breached_at: Option<Option<NaiveDateTime>>,
    pub resolve_breached_at: Option<Option<NaiveDateTime>>,
    pub outcome: Option<Option<String>>,
    pub arrived_at: Option<NaiveDateTime>,
}

/// Remembers that the worker warned of `ticket`'s `deadline` as it stands
/// (not a change anyone sees: neither its version nor `updated_at` moves).
pub fn mark_warned(
    conn: &mut AnyConnection,
    ticket: &TicketRow,
    deadline: crate::domain::notify::Deadline,
) -> QueryResult<()> {
    use crate::domain::notify::Deadline;
    let row = tickets::table.find(ticket.id);
    match deadline {
        Deadline::SignFor => diesel::update(row)
            .set(tickets::accept_warned_due.eq(Some(ticket.accept_due_at)))
            .execute(conn),
        Deadline::Resolve => diesel::update(row)
            .set(tickets::resolve_warned_due.eq(Some(ticket.resolve_due_at)))
            .execute(conn),
    }
    .map(drop)
}

pub fn update_ticket(conn: &mut AnyConnection, id: i64, changes: &TicketChanges) -> QueryResult<TicketRow> {
    diesel::update(tickets::table.find(id))
        .set(changes)
        .returning(tickets::all_columns)
        .get_result(conn)
}

/// What filing writes once its ticket has an id: the first visit, at the
/// unit it was filed to (`ticket_reach` follows by trigger), its search
/// entry, and its first event, which is returned. With [`When::Deferred`]
/// all three wait for the transaction's last statement on PostgreSQL
/// (`batch::defer`): none reads another's rows, and the event's id was
/// drawn with the ticket.
pub fn insert_filed(
    conn: &mut AnyConnection,
    ticket: &TicketRow,
    search: search::NewEntry,
    event: NewEventRow,
    first: FirstEvent,
    when: When,
) -> QueryResult<EventRow> {
    let visit = diesel::insert_into(ticket_visits::table).values((
        ticket_visits::ticket_id.eq(ticket.id),
        ticket_visits::unit_id.eq(ticket.current_unit_id),
    ));
    match (conn, first.0, when) {
        (AnyConnection::Postgres(c), Some(id), When::Deferred) => {
            let row = EventRow::inserted(id, &event)?;
            batch::defer_postgres(
                c,
                diesel::insert_into(ticket_events::table).values((ticket_events::id.eq(id), event)),
            )?;
            batch::defer_postgres(c, visit)?;
            batch::defer_postgres(c, search.postgres_insert())?;
            Ok(row)
        }
        (AnyConnection::Postgres(c), _, _) => batch::With::new(
            diesel::insert_into(ticket_events::table)
                .values(event)
                .returning(ticket_events::all_columns),
        )
        .before(visit)
        .before(search.postgres_insert())
        .get_result(c),
        (AnyConnection::Sqlite(c), _, _) => {
            visit.execute(c)?;
            search.insert_sqlite(c)?;
            diesel::insert_into(ticket_events::table)
                .values(event)
                .returning(ticket_events::all_columns)
                .get_result(c)
        }
    }
}

/// Records that a ticket is (or was) at a unit; staff there may read it.
pub fn record_visit(conn: &mut AnyConnection, ticket_id: i64, unit_id: i64) -> QueryResult<()> {
    let known: i64 = ticket_visits::table
        .filter(ticket_visits::ticket_id.eq(ticket_id))
        .filter(ticket_visits::unit_id.eq(unit_id))
        .count()
        .get_result(conn)?;
    if known == 0 {
        diesel::insert_into(ticket_visits::table)
            .values((
                ticket_visits::ticket_id.eq(ticket_id),
                ticket_visits::unit_id.eq(unit_id),
            ))
            .execute(conn)?;
        // Staff there may now find it by search too.
        search::reindex(conn, &[ticket_id])?;
    }
    Ok(())
}

/// The units each ticket has been at (its current one included).
pub fn visited_units(conn: &mut AnyConnection, ticket_ids: &[i64]) -> QueryResult<Vec<(i64, UnitPlaceRow)>> {
    by_ids!(
        conn,
        ticket_visits::ticket_id,
        ticket_ids,
        ticket_visits::table
            .inner_join(units::table.on(units::id.eq(ticket_visits::unit_id)))
            .select((ticket_visits::ticket_id, UnitPlaceRow::as_select()))
    )
}

/// The units each ticket has been at (its current one included), by id.
pub fn visited_unit_ids(conn: &mut AnyConnection, ticket_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    by_ids!(
        conn,
        ticket_visits::ticket_id,
        ticket_ids,
        ticket_visits::table.select((ticket_visits::ticket_id, ticket_visits::unit_id))
    )
}

/// The units with these ids, as tickets show them.
pub fn units_by_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<UnitPlaceRow>> {
    by_ids!(conn, units::id, ids, units::table.select(UnitPlaceRow::as_select()))
}

/// The reporters with these ids, as tickets show them.
pub fn reporters_by_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<ReporterRow>> {
    by_ids!(conn, users::id, ids, users::table.select(ReporterRow::as_select()))
}

pub fn insert_parties(conn: &mut AnyConnection, parties: &[NewPartyRow]) -> QueryResult<()> {
    insert_parties_unindexed(conn, parties)?;
    // A resident party may now find the dispute by search too.
    let mut tickets: Vec<i64> = parties.iter().map(|p| p.ticket_id).collect();
    tickets.dedup();
    search::reindex(conn, &tickets)
}

/// [`insert_parties`] without giving the tickets their search tokens again:
/// for a filing, which gives them once all its rows are in.
pub fn insert_parties_unindexed(conn: &mut AnyConnection, parties: &[NewPartyRow]) -> QueryResult<()> {
    // One row at a time: batch inserts do not compile for `MultiConnection`.
    for party in parties {
        diesel::insert_into(dispute_parties::table)
            .values(party)
            .execute(conn)?;
    }
    Ok(())
}

/// Tickets a person filed themselves since `since`: how many, and the first.
pub fn own_filings_since(
    conn: &mut AnyConnection,
    reporter_id: i64,
    since: NaiveDateTime,
) -> QueryResult<(i64, Option<NaiveDateTime>)> {
    tickets::table
        .filter(tickets::reporter_id.eq(reporter_id))
        .filter(tickets::filed_by_id.is_null())
        .filter(tickets::created_at.gt(since))
        .select((diesel::dsl::count_star(), diesel::dsl::min(tickets::created_at)))
        .get_result(conn)
}

/// Whether a resident is a party to a dispute someone else filed.
pub fn is_other_party(conn: &mut AnyConnection, user_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        dispute_parties::table
            .inner_join(tickets::table)
            .filter(dispute_parties::user_id.eq(user_id))
            .filter(tickets::reporter_id.ne(user_id)),
    ))
    .get_result(conn)
}

pub fn parties_of(conn: &mut AnyConnection, ticket_ids: &[i64]) -> QueryResult<Vec<PartyRow>> {
    by_ids!(
        conn,
        dispute_parties::ticket_id,
        ticket_ids,
        dispute_parties::table
            .order(dispute_parties::id.asc())
            .select(PartyRow::as_select())
    )
}

pub fn insert_event(conn: &mut AnyConnection, event: &NewEventRow) -> QueryResult<EventRow> {
    crate::db::each_backend!(conn, |c| {
        diesel::insert_into(ticket_events::table)
            .values(event)
            .returning(ticket_events::all_columns)
            .get_result(c)
    })
}

pub struct EventFilter {
    pub include_internal: bool,
    pub only_comments: bool,
    pub after_id: Option<i64>,
    pub limit: i64,
}

pub fn events_of(conn: &mut AnyConnection, ticket_id: i64, filter: &EventFilter) -> QueryResult<Vec<EventRow>> {
    let mut query = ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .order(ticket_events::id.asc())
        .limit(filter.limit)
        .select(EventRow::as_select())
        .into_boxed();
    if !filter.include_internal {
        query = query.filter(ticket_events::internal.eq(false));
    }
    if filter.only_comments {
        query = query.filter(ticket_events::kind.eq("comment"));
    }
    if let Some(after) = filter.after_id {
        query = query.filter(ticket_events::id.gt(after));
    }
    query.load(conn)
}

pub use crate::policy::tickets::{ReporterSight, TicketScope};

/// `tickets.status IN ('assigned', 'accepted')`: the statuses whose clock
/// runs, as the partial index `tickets_open_idx` is defined (a bound value
/// would not let SQLite use it). On SQLite `+tickets.status`, as that
/// index's condition says it since migration 000018: the term then serves
/// no index seek, which SQLite's planner would otherwise prefer to the walk.
fn open_tickets_sql(sqlite: bool) -> String {
    use crate::domain::sla::{RESOLVE_CLOCK_RUNS, SIGN_FOR_CLOCK_RUNS};
    debug_assert!(SIGN_FOR_CLOCK_RUNS.iter().all(|s| RESOLVE_CLOCK_RUNS.contains(s)));
    let statuses = statuses_sql(&RESOLVE_CLOCK_RUNS);
    if sqlite { format!("+{statuses}") } else { statuses }
}

/// `tickets.status IN ('a', 'b')` for statuses of the code's own (never a
/// caller's).
fn statuses_sql(statuses: &[crate::domain::ticket::Status]) -> String {
    let statuses: Vec<String> = statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
    format!("tickets.status IN ({})", statuses.join(", "))
}

/// Who may list what, as a condition with bound values. `open_walk`: the
/// page is of open tickets (`overdue=true`), found fastest by walking
/// `tickets_open_idx`; the community index, which SQLite's planner would
/// rather take, is then kept out of the choice (`+`), since a community's
/// tickets are nearly all of them on most deployments.
fn scope_condition(scope: &TicketScope, open_walk: bool, cache: bool) -> Option<Fragment> {
    let condition = Fragment::new(cache);
    match scope {
        TicketScope::All => None,
        TicketScope::Resident { user_id, party: false } => Some(condition.sql("tickets.reporter_id = ").int(*user_id)),
        TicketScope::Resident { user_id, party: true } => Some(
            condition
                .sql("(tickets.reporter_id = ")
                .int(*user_id)
                .sql(
                    " OR tickets.id IN (SELECT dispute_parties.ticket_id FROM dispute_parties \
                     WHERE dispute_parties.user_id = ",
                )
                .int(*user_id)
                .sql("))"),
        ),
        TicketScope::Staff { communities, prefixes } => {
            let mut parts = Vec::new();
            if !communities.is_empty() {
                let column = if open_walk {
                    "(+tickets.community_id IN ("
                } else {
                    "(tickets.community_id IN ("
                };
                parts.push(Fragment::new(cache).sql(column).ints(communities).sql("))"));
            }
            parts.extend(visited_under(prefixes, cache));
            if parts.is_empty() {
                return Some(condition.sql("1 = 0"));
            }
            let mut condition = condition.sql("(");
            for (i, part) in parts.into_iter().enumerate() {
                if i > 0 {
                    condition.push_sql(" OR ");
                }
                condition = condition.append(part);
            }
            Some(condition.sql(")"))
        }
    }
}

/// `units.path LIKE ?` patterns for the server-made paths among `roots`
/// (digits and `/` only: no `%` or `_` to escape).
fn subtree_patterns(roots: &[String]) -> Vec<String> {
    roots
        .iter()
        .filter(|p| is_server_path(p))
        .map(|p| format!("{p}%"))
        .collect()
}

/// "The ticket is now at a unit in the subtree at `path`" (a server-made
/// path). SQLite cannot take a bound `LIKE` pattern through `units_path_idx`;
/// the same prefix as a range it can (digits and `/` sort as bytes there).
fn subtree_units(path: &str, sqlite: bool, cache: bool) -> Fragment {
    let units = Fragment::new(cache).sql("tickets.current_unit_id IN (SELECT units.id FROM units WHERE ");
    let units = match path.as_bytes().split_last() {
        Some((last, head)) if sqlite && *last < 0x7f => {
            let mut end = head.to_vec();
            end.push(last + 1);
            let end = String::from_utf8_lossy(&end).into_owned();
            units
                .sql("units.path >= ")
                .text(path)
                .sql(" AND units.path < ")
                .text(end)
        }
        _ => units.sql("units.path LIKE ").text(format!("{path}%")),
    };
    units.sql(")")
}

/// "The ticket is, or once was, at a unit in one of these subtrees", or
/// `None` for no (server-made) path. Correlated, so that walking tickets
/// newest first stops after one page whether the subtree holds few tickets
/// or most.
fn visited_under(roots: &[String], cache: bool) -> Option<Fragment> {
    let patterns = subtree_patterns(roots);
    if patterns.is_empty() {
        return None;
    }
    let mut condition = Fragment::new(cache).sql(
        "EXISTS (SELECT 1 FROM ticket_visits JOIN units ON units.id = ticket_visits.unit_id \
         WHERE ticket_visits.ticket_id = tickets.id AND (",
    );
    for (i, pattern) in patterns.into_iter().enumerate() {
        if i > 0 {
            condition.push_sql(" OR ");
        }
        condition.push_sql("units.path LIKE ");
        condition.push_text(pattern);
    }
    Some(condition.sql("))"))
}

/// `reporter_id=N` as a caller may ask it: tickets whose reporter the
/// caller may not see (`policy::tickets::sees_reporter`) match no reporter,
/// so the filter cannot tell who filed them.
#[derive(Debug, Clone)]
pub struct ReporterFilter {
    pub reporter_id: i64,
    pub caller_id: i64,
    pub sight: ReporterSight,
}

/// `policy::tickets::sees_reporter` in SQL: not anonymous, filed by the
/// caller, or (now or once) inside a subtree where the caller sees reporters.
fn reporter_sight(caller_id: i64, sight: &ReporterSight, cache: bool) -> Option<Fragment> {
    let roots = match sight {
        ReporterSight::Everywhere => return None,
        ReporterSight::Below(roots) => roots,
    };
    let mut condition = Fragment::new(cache)
        .sql("(NOT tickets.anonymous OR tickets.reporter_id = ")
        .int(caller_id);
    if let Some(visited) = visited_under(roots, cache) {
        condition = condition.sql(" OR ").append(visited);
    }
    Some(condition.sql(")"))
}

/// `q=` as a caller may ask it: every part of the text in the title,
/// description or location, or in the reporter's name or room where the
/// caller may see the reporter (as for [`ReporterFilter`], so a name is no
/// oracle for who filed an anonymous ticket). `search` is `None` for a text
/// without a letter, digit or character: it matches nothing.
#[derive(Debug, Clone)]
pub struct TextFilter {
    pub search: Option<crate::domain::search::Search>,
    pub caller_id: i64,
    pub sight: ReporterSight,
}

#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub id: Option<i64>,
    pub kind: Option<String>,
    /// Tickets in any of these.
    pub status: Option<Vec<String>>,
    pub category_id: Option<i64>,
    /// Path of a unit: tickets now at a unit in its subtree.
    pub unit_path: Option<String>,
    pub reporter: Option<ReporterFilter>,
    /// With the time it is now.
    pub overdue: Option<(bool, NaiveDateTime)>,
    pub created_from: Option<NaiveDateTime>,
    pub created_to: Option<NaiveDateTime>,
    pub updated_since: Option<NaiveDateTime>,
    pub q: Option<TextFilter>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Every filter of `$f` (and the caller's `$scope`) on a boxed ticket
/// query; `$index` is the search index's condition, when the query does not
/// read the index itself; `$sqlite`: the query goes to SQLite; `$cache`:
/// its statement may stay prepared ([`Shapes::admit`]). A macro:
/// the plain and the joined query are of different types.
macro_rules! filtered {
    ($query:ident, $scope:expr, $f:expr, $index:expr, $sqlite:expr, $cache:expr) => {
        let cache: bool = $cache;
        // SQLite only: PostgreSQL's planner, told less of the community
        // term, collects every overdue ticket and sorts them instead.
        let open_walk = $sqlite && matches!($f.overdue, Some((true, _)));
        if let Some(condition) = scope_condition($scope, open_walk, cache) {
            $query = $query.filter(condition);
        }
        if let Some(id) = $f.id {
            $query = $query.filter(tickets::id.eq(id));
        }
        if let Some(kind) = &$f.kind {
            $query = $query.filter(tickets::kind.eq(kind.clone()));
        }
        if let Some(statuses) = &$f.status {
            $query = $query.filter(Fragment::new(cache).sql("tickets.status IN (").texts(statuses).sql(")"));
        }
        if let Some(category_id) = $f.category_id {
            $query = $query.filter(tickets::category_id.eq(category_id));
        }
        if let Some(path) = $f.unit_path.as_deref().filter(|p| is_server_path(p)) {
            $query = $query.filter(subtree_units(path, $sqlite, cache));
        }
        if let Some(reporter) = &$f.reporter {
            $query = $query.filter(tickets::reporter_id.eq(reporter.reporter_id));
            if let Some(condition) = reporter_sight(reporter.caller_id, &reporter.sight, cache) {
                $query = $query.filter(condition);
            }
        }
        if let Some((overdue, now)) = $f.overdue {
            // `domain::sla::is_overdue` in SQL, the statuses written out (the
            // code's own) as `tickets_open_idx` says them.
            use crate::domain::sla::{RESOLVE_CLOCK_RUNS, SIGN_FOR_CLOCK_RUNS};
            let late = Fragment::new(cache)
                .sql(format!(
                    "(({}) AND (tickets.accept_due_at < ",
                    statuses_sql(&SIGN_FOR_CLOCK_RUNS)
                ))
                .time(now)
                .sql(format!(
                    ")) OR (({}) AND (tickets.resolve_due_at < ",
                    statuses_sql(&RESOLVE_CLOCK_RUNS)
                ))
                .time(now)
                .sql("))");
            if overdue {
                // So that the walk goes over that index (migration 000017).
                $query = $query.filter(Fragment::new(cache).sql(open_tickets_sql($sqlite)));
                $query = $query.filter(Fragment::new(cache).sql("(").append(late).sql(")"));
            } else {
                $query = $query.filter(Fragment::new(cache).sql("NOT (").append(late).sql(")"));
            }
        }
        if let Some(from) = $f.created_from {
            $query = $query.filter(tickets::created_at.ge(from));
        }
        if let Some(to) = $f.created_to {
            $query = $query.filter(tickets::created_at.lt(to));
        }
        if let Some(since) = $f.updated_since {
            $query = $query.filter(tickets::updated_at.ge(since));
        }
        if let Some(text) = &$f.q {
            if let Some(sql) = &$index {
                $query = $query.filter(diesel::dsl::sql::<Bool>(sql));
            }
            if let Some(search) = &text.search {
                // Only this substring test reads names, and only where the
                // caller may see the reporter.
                for part in search.parts() {
                    let sight = reporter_sight(text.caller_id, &text.sight, cache);
                    let pattern = contains_pattern(&part.text);
                    $query = $query.filter(search::confirm(&pattern, sight, cache));
                }
            }
        }
        if let Some(before) = $f.before_id {
            $query = $query.filter(tickets::id.lt(before));
        }
    };
}

/// Tickets newest first (by id), one page.
pub fn list_tickets(conn: &mut AnyConnection, scope: &TicketScope, f: &TicketFilter) -> QueryResult<Vec<TicketRow>> {
    let search = f.q.as_ref().map(|text| text.search.as_ref());
    // Who may list what, as the index's tokens: a narrow scope (a household,
    // a resident) is intersected inside the index.
    let scope_tokens = match search {
        Some(Some(_)) => search::scope_tokens(conn, scope)?,
        _ => None,
    };
    match (search, &mut *conn) {
        // SQLite: walk the FTS5 index newest first and join each hit, so a
        // page is done after its first rows whether a token is in a few
        // tickets or in all (`id IN (SELECT rowid ...)` would first read
        // every hit into a temporary table).
        (Some(Some(search)), AnyConnection::Sqlite(c)) => {
            let mut query = tickets::table
                .inner_join(search::ticket_search::table.on(search::ticket_search::rowid.eq(tickets::id)))
                .select(TicketRow::as_select())
                .filter(
                    diesel::dsl::sql::<Bool>("ticket_search MATCH ")
                        .bind::<Text, _>(search::fts5_match(search, scope_tokens.as_deref())),
                )
                .order(search::ticket_search::rowid.desc())
                .limit(f.limit)
                .into_boxed();
            if let Some(before) = f.before_id {
                // Said of the index's rowid, so that FTS5 seeks to it.
                query = query.filter(search::ticket_search::rowid.lt(before));
            }
            filtered!(query, scope, f, None::<String>, true, false);
            query.load(c)
        }
        (Some(Some(search)), AnyConnection::Postgres(_)) => {
            let query = search::PostgresQuery::new(search, scope_tokens.as_deref());
            list_by_postgres_index(conn, scope, f, &query)
        }
        // No letter, digit or character: nothing matches.
        (Some(None), _) => page(conn, scope, f, Some("1 = 0".to_owned()), None),
        (None, _) => page(conn, scope, f, None, None),
    }
}

/// One page of tickets at or above `floor` that `index` (SQL) holds.
fn page(
    conn: &mut AnyConnection,
    scope: &TicketScope,
    f: &TicketFilter,
    index: Option<String>,
    floor: Option<i64>,
) -> QueryResult<Vec<TicketRow>> {
    if let (AnyConnection::Postgres(c), None, None) = (&mut *conn, &index, floor)
        && let Some(page) = front_page(scope, f)
    {
        let keep = page.keep;
        return page.rows().load(c).map(|mut rows: Vec<TicketRow>| {
            rows.truncate(keep);
            rows
        });
    }
    let sqlite = matches!(conn, AnyConnection::Sqlite(_));
    // PostgreSQL plans a kept statement once for any values after a few
    // uses; its lists stay planned for their values (but see `front_page`).
    let cache = sqlite && LIST_SHAPES.admit(&list_shape(scope, f, floor));
    crate::db::each_backend!(conn, |c| {
        let mut query = tickets::table
            .select(TicketRow::as_select())
            .order(tickets::id.desc())
            .limit(f.limit)
            .into_boxed();
        if let Some(floor) = floor {
            query = query.filter(tickets::id.ge(floor));
        }
        filtered!(query, scope, f, index, sqlite, cache);
        query.load(c)
    })
}

/// PostgreSQL: a page without filters of a community's tickets (the list
/// an admin or a committee opens first), of a resident's own (their app's)
/// or of every ticket, from a kept statement that PostgreSQL plans once:
/// planning a list anew cost it more than running it. `None` for any other
/// list.
///
/// PostgreSQL keeps planning a kept statement for the values it is given
/// while that plan looks cheaper than one for any values; it settles on one
/// plan only when seeing the values would not help. So each value is a
/// sub-select, which no plan can see into, and the page size is in the text
/// (a bound `LIMIT` is priced as a tenth of the table). No plan of it walks
/// more than the community's tickets: with `community_id = $1`, a plan for
/// any value may walk the primary key and test every ticket (seconds at a
/// million, for a community with none); a row comparison over
/// `(community_id, id)` only `tickets_community_idx` can answer (and over
/// `(reporter_id, id)` only `tickets_reporter_idx`).
///
/// Built apart from running it: the list handler sends it over the worker's
/// pipelined connection (`db::pipeline`) where it can.
pub fn front_page(scope: &TicketScope, f: &TicketFilter) -> Option<FrontPage> {
    // Every field named, so that a new filter cannot be left out.
    let TicketFilter {
        id: None,
        kind: None,
        status: None,
        category_id: None,
        unit_path: None,
        reporter: None,
        overdue: None,
        created_from: None,
        created_to: None,
        updated_since: None,
        q: None,
        before_id,
        limit,
    } = f
    else {
        return None;
    };
    let owner = match scope {
        TicketScope::All => None,
        TicketScope::Staff { communities, prefixes } if prefixes.is_empty() => match communities.as_slice() {
            [community] => Some(Owner::Community(*community)),
            _ => return None,
        },
        TicketScope::Resident { user_id, party: false } => Some(Owner::Reporter(*user_id)),
        _ => return None,
    };
    // The page size is in the statement's text: one of a few, the rows past
    // the page's own size dropped, so a client trying every size (1-100)
    // leaves five statements a connection for each kind of scope, not a
    // hundred.
    let size = FRONT_PAGE_SIZES.into_iter().find(|size| size >= limit)?;
    if !LIST_SHAPES.admit(&("front page", owner.map(|owner| owner.column()), size)) {
        return None;
    }
    let before = before_id.unwrap_or(i64::MAX);
    let query = tickets::table.into_boxed();
    let query = match owner {
        Some(owner) => {
            let (column, value) = (owner.column(), owner.value());
            // `(owner, id)` below `(owner, before)` and above `(owner, 0)`.
            let rows = Fragment::new(true)
                .sql(format!("(tickets.{column}, tickets.id) < ((SELECT "))
                .int(value)
                .sql("), (SELECT ")
                .int(before)
                .sql(format!(")) AND (tickets.{column}, tickets.id) > ((SELECT "))
                .int(value)
                .sql("), 0)");
            let query = query.filter(rows);
            match owner {
                Owner::Community(_) => query.order((tickets::community_id.desc(), tickets::id.desc())),
                Owner::Reporter(_) => query.order((tickets::reporter_id.desc(), tickets::id.desc())),
            }
        }
        None => query
            .filter(Fragment::new(true).sql("tickets.id < (SELECT ").int(before).sql(")"))
            .order(tickets::id.desc()),
    };
    Some(FrontPage {
        query,
        size,
        keep: usize::try_from(*limit).unwrap_or(usize::MAX),
    })
}

/// A front page's statement ([`front_page`]) without its select list, and
/// how many of its rows (the next size up) are the page's.
pub struct FrontPage {
    query: tickets::BoxedQuery<'static, diesel::pg::Pg>,
    size: i64,
    pub(in crate::db) keep: usize,
}

impl FrontPage {
    /// The statement reading the page's rows.
    pub(in crate::db) fn rows(
        self,
    ) -> LimitedTo<tickets::BoxedQuery<'static, diesel::pg::Pg, diesel::dsl::AsSelect<TicketRow, diesel::pg::Pg>>> {
        LimitedTo::new(self.query.select(TicketRow::as_select()), self.size)
    }

    /// The statement reading the page's tickets as (id, version).
    pub(in crate::db) fn versions(
        self,
    ) -> LimitedTo<tickets::BoxedQuery<'static, diesel::pg::Pg, (diesel::sql_types::BigInt, diesel::sql_types::BigInt)>>
    {
        LimitedTo::new(self.query.select((tickets::id, tickets::version)), self.size)
    }
}

/// Whose tickets a front page lists (none: every ticket).
#[derive(Debug, Clone, Copy)]
enum Owner {
    Community(i64),
    /// A resident's own.
    Reporter(i64),
}

impl Owner {
    fn column(self) -> &'static str {
        match self {
            Owner::Community(_) => "community_id",
            Owner::Reporter(_) => "reporter_id",
        }
    }

    fn value(self) -> i64 {
        match self {
            Owner::Community(id) | Owner::Reporter(id) => id,
        }
    }
}

/// Rows a kept front page asks for: a page of 10, 20 (the default), 25, 50
/// or 100 and the one that tells whether another page follows.
const FRONT_PAGE_SIZES: [i64; 5] = [11, 21, 26, 51, 101];

/// The list statements kept prepared, by shape.
static LIST_SHAPES: std::sync::LazyLock<Shapes> = std::sync::LazyLock::new(Shapes::new);

/// What the text of a list's statement depends on: which filters, and how
/// many values each holds (never the values).
fn list_shape(scope: &TicketScope, f: &TicketFilter, floor: Option<i64>) -> impl std::hash::Hash {
    // Every field named, so that a new filter cannot be left out.
    let TicketFilter {
        id,
        kind,
        status,
        category_id,
        unit_path,
        reporter,
        overdue,
        created_from,
        created_to,
        updated_since,
        q,
        before_id,
        limit: _,
    } = f;
    let sight = |sight: &ReporterSight| match sight {
        ReporterSight::Everywhere => None,
        ReporterSight::Below(roots) => Some(subtree_patterns(roots).len()),
    };
    let scope = match scope {
        TicketScope::All => (0, 0, 0),
        TicketScope::Resident { party, .. } => (1, usize::from(*party), 0),
        TicketScope::Staff { communities, prefixes } => (2, communities.len(), subtree_patterns(prefixes).len()),
    };
    (
        scope,
        (
            id.is_some(),
            kind.is_some(),
            status.as_ref().map(Vec::len),
            category_id.is_some(),
        ),
        unit_path.as_deref().is_some_and(is_server_path),
        reporter.as_ref().map(|r| sight(&r.sight)),
        overdue.map(|(overdue, _)| overdue),
        (created_from.is_some(), created_to.is_some(), updated_since.is_some()),
        q.as_ref()
            .map(|q| (q.search.as_ref().map(|s| s.parts().len()), sight(&q.sight))),
        (before_id.is_some(), floor.is_some()),
    )
}

/// A search on PostgreSQL. GIN finds tokens fast but in no order, and the
/// planner cannot tell a search with ten hits from one with half the
/// tickets. So the index is asked for the newest hits of the newest
/// buckets of ids in order ([`search::postgres_newest`]), then below them
/// for all hits at once: few are listed by id, a word so common that its
/// hits are many is walked newest first (each ticket looked up in the
/// index). The caller's scope is in the query, so a household's or a
/// resident's hits are few. Rounds go on below while the page is not full
/// (the lists' SQL, which decides visibility, may leave out a hit).
fn list_by_postgres_index(
    conn: &mut AnyConnection,
    scope: &TicketScope,
    f: &TicketFilter,
    query: &search::PostgresQuery,
) -> QueryResult<Vec<TicketRow>> {
    // The newest ticket's id is read with the first probe.
    let mut below: Option<i64> = f.before_id;
    let mut rows: Vec<TicketRow> = Vec::new();
    let mut rounds = 0;
    loop {
        let missing = f.limit - i64::try_from(rows.len()).unwrap_or(i64::MAX);
        let AnyConnection::Postgres(pg) = &mut *conn else {
            return Ok(rows);
        };
        if missing <= 0 || below.is_some_and(|below| below <= 1) {
            return Ok(rows);
        }
        let rest = |top: i64| TicketFilter {
            before_id: Some(top),
            limit: missing,
            ..f.clone()
        };
        // The lists' other filters (status, category, dates...) are not in
        // the index: when they leave hits out, each round asks for four
        // times as many, so a page takes a few rounds, not one per `limit`.
        let wanted = usize::try_from(missing)
            .unwrap_or(usize::MAX)
            .saturating_mul(1 << (2 * rounds.min(8)))
            .min(search::CANDIDATES);
        rounds += 1;
        match search::postgres_newest(pg, query, below, wanted)? {
            search::Newest::Ids { ids, floor } => {
                if !ids.is_empty() {
                    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                    let index = format!("tickets.id IN ({})", ids.join(", "));
                    rows.extend(page(conn, scope, &rest(below.unwrap_or(i64::MAX)), Some(index), None)?);
                }
                below = Some(floor);
            }
            search::Newest::Walk { top, floor } => {
                let walk = search::postgres_walk_sql(query.whole());
                rows.extend(page(conn, scope, &rest(top), Some(walk), Some(floor))?);
                below = Some(floor);
            }
        }
    }
}

// ---------------------------------------------------------------- idempotency

/// The stored response for a key, if it is younger than `not_before`.
pub fn find_idempotent(
    conn: &mut AnyConnection,
    user_id: i64,
    key: &str,
    not_before: NaiveDateTime,
) -> QueryResult<Option<IdempotencyRow>> {
    idempotency_keys::table
        .filter(idempotency_keys::user_id.eq(user_id))
        .filter(idempotency_keys::key.eq(key))
        .filter(idempotency_keys::created_at.ge(not_before))
        .select(IdempotencyRow::as_select())
        .first(conn)
        .optional()
}

/// Stores the first response for a key, replacing an expired one. A key
/// stored meanwhile by a concurrent request answers `idempotency_race`.
pub fn store_idempotent(
    conn: &mut AnyConnection,
    row: &IdempotencyRow,
    expired_before: NaiveDateTime,
) -> Result<(), ApiError> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::user_id.eq(row.user_id))
            .filter(idempotency_keys::key.eq(&row.key))
            .filter(idempotency_keys::created_at.lt(expired_before)),
    )
    .execute(conn)?;
    match diesel::insert_into(idempotency_keys::table).values(row).execute(conn) {
        Ok(_) => Ok(()),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Err(ApiError::conflict(
                "idempotency_race",
                "A concurrent request used the same key.",
                "并发请求使用了同一幂等键。",
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_bind_their_values_and_take_only_server_paths() {
        let sql = |scope: &TicketScope| {
            scope_condition(scope, false, true).map(|c| {
                diesel::debug_query::<diesel::sqlite::Sqlite, _>(&tickets::table.select(tickets::id).filter(c))
                    .to_string()
            })
        };
        assert_eq!(sql(&TicketScope::All), None);
        let staff = TicketScope::Staff {
            communities: vec![7],
            prefixes: vec!["/2/5/".into(), "/2/' OR 1=1".into()],
        };
        let text = sql(&staff).unwrap();
        assert!(
            text.contains("(tickets.community_id IN (?)) OR EXISTS") && text.contains("(units.path LIKE ?))"),
            "{text}"
        );
        assert!(text.contains(r#"binds: [7, "/2/5/%"]"#), "{text}");
        assert!(!text.contains("OR 1=1"), "{text}");
        let nothing = TicketScope::Staff {
            communities: vec![],
            prefixes: vec![],
        };
        assert!(sql(&nothing).unwrap().contains("WHERE 1 = 0"));
    }

    #[test]
    fn a_subtree_is_a_byte_range_on_sqlite_and_a_pattern_on_postgres() {
        let sql = |sqlite: bool| {
            let units = subtree_units("/1/2/", sqlite, true);
            diesel::debug_query::<diesel::sqlite::Sqlite, _>(&tickets::table.select(tickets::id).filter(units))
                .to_string()
        };
        assert!(
            sql(true).contains(r#"units.path >= ? AND units.path < ?) -- binds: ["/1/2/", "/1/20"]"#),
            "{}",
            sql(true)
        );
        assert!(
            sql(false).contains(r#"units.path LIKE ?) -- binds: ["/1/2/%"]"#),
            "{}",
            sql(false)
        );
    }

    /// A list's statement is prepared once and used again with other values
    /// (a community's or another's).
    #[test]
    fn a_list_statement_is_prepared_once_for_any_scope_values() {
        use diesel::connection::InstrumentationEvent;
        use diesel_migrations::MigrationHarness;
        use std::sync::{Arc, Mutex};
        let mut sqlite = SqliteConnection::establish(":memory:").unwrap();
        sqlite.run_pending_migrations(crate::db::SQLITE_MIGRATIONS).unwrap();
        let seen = Arc::new(Mutex::new((0, 0)));
        let counter = Arc::clone(&seen);
        sqlite.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            let mut seen = counter.lock().unwrap();
            match event {
                InstrumentationEvent::StartQuery { query, .. } if query.to_string().contains("FROM `tickets`") => {
                    seen.0 += 1
                }
                InstrumentationEvent::CacheQuery { sql, .. } if sql.contains("FROM `tickets`") => seen.1 += 1,
                _ => {}
            }
        });
        let mut conn = AnyConnection::Sqlite(sqlite);
        let filter = TicketFilter {
            status: Some(vec!["submitted".into()]),
            limit: 25,
            ..TicketFilter::default()
        };
        for community in [1, 2, 3] {
            let scope = TicketScope::Staff {
                communities: vec![community],
                prefixes: vec![format!("/{community}/4/")],
            };
            list_tickets(&mut conn, &scope, &filter).unwrap();
        }
        assert_eq!(
            *seen.lock().unwrap(),
            (3, 1),
            "(lists run, statements prepared for the cache)"
        );
    }

    /// `overdue=true` walks `tickets_open_idx` with the statistics the demo
    /// of 10,000 tickets gets from ANALYZE, under which SQLite once sought
    /// `tickets_resolve_due_idx` by status and sorted every open ticket.
    #[test]
    fn overdue_walks_the_open_index_under_real_statistics() {
        use diesel::connection::{InstrumentationEvent, SimpleConnection};
        use diesel_migrations::MigrationHarness;
        use std::sync::{Arc, Mutex};
        #[derive(QueryableByName)]
        struct Plan {
            #[diesel(sql_type = Text)]
            detail: String,
        }
        let mut sqlite = SqliteConnection::establish(":memory:").unwrap();
        sqlite.run_pending_migrations(crate::db::SQLITE_MIGRATIONS).unwrap();
        sqlite
            .batch_execute(
                "ANALYZE; DELETE FROM sqlite_stat1; INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES \
                 ('tickets', 'tickets_open_idx', '516 1 1 1 1 1'), ('tickets', 'tickets_resolve_watch_idx', '516 1'), \
                 ('tickets', 'tickets_accept_watch_idx', '249 1'), ('tickets', 'tickets_resolve_due_idx', '10000 1250 1'), \
                 ('tickets', 'tickets_accept_due_idx', '10000 1250 1'), ('tickets', 'tickets_community_idx', '10000 10000 1'), \
                 ('tickets', 'tickets_status_idx', '10000 1250 1'), ('tickets', 'tickets_reporter_idx', '10000 500 1'); \
                 ANALYZE sqlite_schema;",
            )
            .unwrap();
        let sql = Arc::new(Mutex::new(String::new()));
        let seen = Arc::clone(&sql);
        sqlite.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                *seen.lock().unwrap() = query.to_string();
            }
        });
        let mut conn = AnyConnection::Sqlite(sqlite);
        let filter = TicketFilter {
            overdue: Some((true, chrono::Utc::now().naive_utc())),
            limit: 25,
            ..TicketFilter::default()
        };
        let scope = TicketScope::Staff {
            communities: vec![1],
            prefixes: vec![],
        };
        list_tickets(&mut conn, &scope, &filter).unwrap();
        let AnyConnection::Sqlite(mut sqlite) = conn else {
            unreachable!()
        };
        let sql = sql.lock().unwrap().split(" -- binds").next().unwrap().to_owned();
        let plan: Vec<String> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<Plan>(&mut sqlite)
            .unwrap()
            .into_iter()
            .map(|p| p.detail)
            .collect();
        assert_eq!(plan, ["SCAN tickets USING INDEX tickets_open_idx"], "{sql}");
    }
}
