//! Statistics over a subtree and a period, in a few aggregate queries.
//! Written per backend where percentiles and date arithmetic differ. Values
//! in the SQL are ids, server-formatted timestamps and server paths only.
//!
//! At a million tickets the cost is reading rows, so every query here is
//! answered from indexes (migration `000007_stats_indexes`): counts from a
//! covering index on `(community_id, created_at)`, and percentiles by
//! walking an index ordered by each duration to the two ranks that
//! `percentile_cont` interpolates between, instead of sorting every value.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};

use super::AnyConnection;
use super::models::UnitRow;
use super::schema::units;
use crate::domain::grid::{community_of, is_server_path};
use crate::error::ApiError;

/// Which tickets count: those of a whole community, or those that have been
/// at a unit in a subtree.
pub enum StatsScope {
    Community(i64),
    Subtree(String),
}

/// Tickets counted by status, kind, category and the level they were
/// resolved at, with the sums the rates need: one pass over the period.
#[derive(QueryableByName, Debug)]
pub struct Group {
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub category_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub resolved_level: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = BigInt)]
    pub breached: i64,
    #[diesel(sql_type = BigInt)]
    pub reopened: i64,
    #[diesel(sql_type = BigInt)]
    pub rated: i64,
    #[diesel(sql_type = BigInt)]
    pub rating_sum: i64,
    /// Tickets with a sign-for time (the population of the accept percentiles).
    #[diesel(sql_type = BigInt)]
    pub accepted: i64,
    /// Tickets with a resolution time (the population of the resolve percentiles).
    #[diesel(sql_type = BigInt)]
    pub resolved: i64,
}

/// How many durations each percentile is taken over.
#[derive(Debug, Default, Clone, Copy)]
pub struct Populations {
    pub accepted: i64,
    pub resolved: i64,
}

impl Populations {
    pub fn of<'a>(groups: impl IntoIterator<Item = &'a Group>) -> Self {
        groups.into_iter().fold(Self::default(), |p, g| Self {
            accepted: p.accepted + g.accepted,
            resolved: p.resolved + g.resolved,
        })
    }
}

/// Median and 90th percentile, in hours, of signing for and of resolving.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timings {
    pub accept_median: Option<f64>,
    pub accept_p90: Option<f64>,
    pub resolve_median: Option<f64>,
    pub resolve_p90: Option<f64>,
}

/// A deadline counts as missed when the worker flagged it, or when the
/// sign-for or resolution came after it.
const BREACHED: &str = "SUM(CASE WHEN t.accept_breached_at IS NOT NULL OR t.resolve_breached_at IS NOT NULL \
    OR t.accepted_at > t.accept_due_at OR t.resolved_at > t.resolve_due_at THEN 1 ELSE 0 END)";

/// The per-ticket sums of a [`Group`], over `t`.
const SUMS: &str = "COUNT(*) AS count, {BREACHED} AS breached, \
    SUM(CASE WHEN t.reopen_count > 0 THEN 1 ELSE 0 END) AS reopened, \
    COUNT(t.rating) AS rated, COALESCE(SUM(t.rating), 0) AS rating_sum, \
    COUNT(t.accepted_at) AS accepted, COUNT(t.resolved_at) AS resolved";

/// The same sums, added up over pre-aggregated rows `g`.
const RESUMS: &str = "CAST(SUM(g.count) AS BIGINT) AS count, CAST(SUM(g.breached) AS BIGINT) AS breached, \
    CAST(SUM(g.reopened) AS BIGINT) AS reopened, CAST(SUM(g.rated) AS BIGINT) AS rated, \
    CAST(SUM(g.rating_sum) AS BIGINT) AS rating_sum, CAST(SUM(g.accepted) AS BIGINT) AS accepted, \
    CAST(SUM(g.resolved) AS BIGINT) AS resolved";

fn sums() -> String {
    SUMS.replace("{BREACHED}", BREACHED)
}

/// Hours from filing to `column` (`accepted_at` or `resolved_at`): the exact
/// expressions of the duration indexes, so the planner walks those.
fn hours(column: Duration, postgres: bool) -> &'static str {
    match (column, postgres) {
        (Duration::Accept, true) => "EXTRACT(EPOCH FROM (t.accepted_at - t.created_at))::float8 / 3600.0",
        (Duration::Resolve, true) => "EXTRACT(EPOCH FROM (t.resolved_at - t.created_at))::float8 / 3600.0",
        (Duration::Accept, false) => "(julianday(t.accepted_at) - julianday(t.created_at)) * 24.0",
        (Duration::Resolve, false) => "(julianday(t.resolved_at) - julianday(t.created_at)) * 24.0",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Duration {
    Accept,
    Resolve,
}

fn stamp(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Tickets filed in `[from, to)`.
fn period(from: NaiveDateTime, to: NaiveDateTime, postgres: bool) -> String {
    let cast = if postgres { "::timestamp" } else { "" };
    format!(
        "t.created_at >= '{}'{cast} AND t.created_at < '{}'{cast}",
        stamp(from),
        stamp(to)
    )
}

/// Tickets that have been at a unit under `path` (a server path).
fn visited(path: &str) -> String {
    // Set-based (not a correlated EXISTS): statistics read every ticket in scope.
    format!(
        "t.id IN (SELECT v.ticket_id FROM ticket_visits v JOIN units u ON u.id = v.unit_id \
         WHERE u.path LIKE '{path}%')"
    )
}

/// `WHERE` conditions for the scope and period.
fn conditions(scope: &StatsScope, from: NaiveDateTime, to: NaiveDateTime, postgres: bool) -> String {
    let scope = match scope {
        StatsScope::Community(id) => format!("t.community_id = {id}"),
        // A ticket only ever visits units of its own community (units that
        // were visited cannot move), so naming the community changes nothing
        // but lets the community indexes narrow the rows.
        StatsScope::Subtree(path) => match community_of(path) {
            Some(community) if is_server_path(path) => format!("t.community_id = {community} AND {}", visited(path)),
            _ => "1 = 0".to_owned(),
        },
    };
    format!("{scope} AND {}", period(from, to, postgres))
}

/// Runs `f` in one read-only snapshot, so that counts and percentiles agree.
/// On PostgreSQL the sorts and hashes of a large period get room in memory.
pub fn snapshot<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    match conn {
        AnyConnection::Postgres(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            diesel::sql_query("SET LOCAL work_mem = '64MB'").execute(c)?;
        }
        AnyConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?,
    }
    let result = f(conn);
    // Nothing was written: ending the snapshot with a rollback is the same as a commit.
    let end = match &mut *conn {
        AnyConnection::Postgres(c) => AnsiTransactionManager::rollback_transaction(c),
        AnyConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
    };
    match (result, end) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(e), _) => Err(e),
    }
}

fn load<T>(conn: &mut AnyConnection, sql: impl Fn(bool) -> String) -> QueryResult<Vec<T>>
where
    T: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    match conn {
        AnyConnection::Postgres(c) => diesel::sql_query(sql(true)).load(c),
        AnyConnection::Sqlite(c) => diesel::sql_query(sql(false)).load(c),
    }
}

pub fn groups(
    conn: &mut AnyConnection,
    scope: &StatsScope,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<Group>> {
    // Aggregate by resolving unit first and look up its level afterwards:
    // a join per ticket costs more than the whole lookup.
    load(conn, |pg| {
        format!(
            "SELECT g.status AS status, g.kind AS kind, g.category_id AS category_id, r.level AS resolved_level, {RESUMS} \
             FROM (SELECT t.status AS status, t.kind AS kind, t.category_id AS category_id, \
             t.resolved_unit_id AS resolved_unit_id, {} FROM tickets t WHERE {} \
             GROUP BY t.status, t.kind, t.category_id, t.resolved_unit_id) g \
             LEFT JOIN units r ON r.id = g.resolved_unit_id GROUP BY g.status, g.kind, g.category_id, r.level",
            sums(),
            conditions(scope, from, to, pg)
        )
    })
}

#[derive(QueryableByName, Debug)]
struct Ranked {
    #[diesel(sql_type = BigInt)]
    target: i64,
    #[diesel(sql_type = Double)]
    hours: f64,
}

/// Where `percentile_cont(p)` over `n` sorted values reads: the ranks
/// ⌊p·(n−1)⌋ and ⌈p·(n−1)⌉ (0-based), and the exact position between them.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
fn ranks(p: f64, n: i64) -> (i64, i64, f64) {
    let exact = p * (n - 1) as f64;
    (exact.floor() as i64, exact.ceil() as i64, exact)
}

/// `percentile_cont`'s interpolation, to the bit: `lo + (hi − lo)·(exact − ⌊exact⌋)`.
fn interpolate(p: f64, n: i64, values: &[f64]) -> Option<f64> {
    let (lower, upper, exact) = ranks(p, n);
    let low = *values.first()?;
    if upper == lower {
        return Some(low);
    }
    let high = *values.get(1)?;
    #[allow(clippy::cast_precision_loss)]
    Some(low + (high - low) * (exact - lower as f64))
}

const PERCENTILES: [f64; 2] = [0.5, 0.9];

/// Hours from filing to signing for, and from filing to resolution: median
/// and 90th percentile as PostgreSQL's `percentile_cont` defines them.
/// `populations` are the counts of each duration in the same scope (from
/// [`groups`], in the same [`snapshot`]): with them each percentile is two
/// rows read at a known rank, walking the duration index from its nearer end.
pub fn timings(
    conn: &mut AnyConnection,
    scope: &StatsScope,
    from: NaiveDateTime,
    to: NaiveDateTime,
    populations: Populations,
) -> QueryResult<Timings> {
    if let StatsScope::Subtree(_) = scope {
        // Walking a community's duration index while testing each ticket
        // against a subtree costs more than sorting the subtree's own values.
        return sorted_timings(conn, scope, from, to);
    }
    let targets: Vec<(Duration, f64, i64)> = [
        (Duration::Accept, populations.accepted),
        (Duration::Resolve, populations.resolved),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .flat_map(|(d, n)| PERCENTILES.map(|p| (d, p, n)))
    .collect();
    if targets.is_empty() {
        return Ok(Timings::default());
    }
    let rows: Vec<Ranked> = load(conn, |pg| {
        targets
            .iter()
            .enumerate()
            .map(|(i, &(duration, p, n))| {
                let (lower, upper, _) = ranks(p, n);
                let count = upper - lower + 1;
                // From the nearer end: ascending from `lower`, or descending
                // from the last rank down to `upper`.
                let (order, offset) = if lower <= n - 1 - upper {
                    ("", lower)
                } else {
                    (" DESC", n - 1 - upper)
                };
                let h = hours(duration, pg);
                // SQLite's planner, without table statistics, would rather
                // sort the period than walk the index: name the index.
                let index = match (pg, duration) {
                    (true, _) => "",
                    (false, Duration::Accept) => " INDEXED BY tickets_accept_hours_idx",
                    (false, Duration::Resolve) => " INDEXED BY tickets_resolve_hours_idx",
                };
                format!(
                    "SELECT CAST({i} AS BIGINT) AS target, x.hours AS hours FROM (SELECT {h} AS hours FROM tickets t{index} \
                     WHERE {} AND {h} IS NOT NULL ORDER BY {h}{order} LIMIT {count} OFFSET {offset}) x",
                    conditions(scope, from, to, pg)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    })?;
    let mut timings = Timings::default();
    for (i, &(duration, p, n)) in targets.iter().enumerate() {
        let mut values: Vec<f64> = rows
            .iter()
            .filter(|r| usize::try_from(r.target).is_ok_and(|t| t == i))
            .map(|r| r.hours)
            .collect();
        values.sort_by(f64::total_cmp);
        let value = interpolate(p, n, &values);
        match (duration, p > 0.5) {
            (Duration::Accept, false) => timings.accept_median = value,
            (Duration::Accept, true) => timings.accept_p90 = value,
            (Duration::Resolve, false) => timings.resolve_median = value,
            (Duration::Resolve, true) => timings.resolve_p90 = value,
        }
    }
    Ok(timings)
}

#[derive(QueryableByName, Debug)]
struct Percentiles {
    #[diesel(sql_type = Nullable<Double>)]
    accept_median: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    accept_p90: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    resolve_median: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    resolve_p90: Option<f64>,
}

#[derive(QueryableByName, Debug)]
struct SortedRank {
    #[diesel(sql_type = Double)]
    hours: f64,
    #[diesel(sql_type = BigInt)]
    rank: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// [`timings`] by sorting every duration in scope, once per duration.
fn sorted_timings(
    conn: &mut AnyConnection,
    scope: &StatsScope,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Timings> {
    match conn {
        AnyConnection::Postgres(c) => {
            // The array form computes both percentiles in one sort.
            let sql = format!(
                "SELECT a[1] AS accept_median, a[2] AS accept_p90, r[1] AS resolve_median, r[2] AS resolve_p90 FROM (SELECT \
                 percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {}) AS a, \
                 percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {}) AS r \
                 FROM tickets t WHERE {}) p",
                hours(Duration::Accept, true),
                hours(Duration::Resolve, true),
                conditions(scope, from, to, true)
            );
            let p: Percentiles = diesel::sql_query(sql).get_result(c)?;
            Ok(Timings {
                accept_median: p.accept_median,
                accept_p90: p.accept_p90,
                resolve_median: p.resolve_median,
                resolve_p90: p.resolve_p90,
            })
        }
        AnyConnection::Sqlite(c) => {
            // Sort inside SQLite and read back only the ranks around the
            // median and the 90th percentile.
            let mut both = |duration: Duration| -> QueryResult<[Option<f64>; 2]> {
                let column = match duration {
                    Duration::Accept => "accepted_at",
                    Duration::Resolve => "resolved_at",
                };
                let sql = format!(
                    "WITH d AS (SELECT {} AS hours FROM tickets t WHERE {} AND t.{column} IS NOT NULL), \
                     r AS (SELECT hours, ROW_NUMBER() OVER (ORDER BY hours) - 1 AS rank, COUNT(*) OVER () AS n FROM d) \
                     SELECT hours, rank, n FROM r WHERE rank IN (CAST(0.5 * (n - 1) AS INTEGER), \
                     CAST(0.5 * (n - 1) AS INTEGER) + 1, CAST(0.9 * (n - 1) AS INTEGER), CAST(0.9 * (n - 1) AS INTEGER) + 1) \
                     ORDER BY rank",
                    hours(duration, false),
                    conditions(scope, from, to, false)
                );
                let rows = diesel::sql_query(sql).load::<SortedRank>(c)?;
                Ok(PERCENTILES.map(|p| {
                    let n = rows.first()?.n;
                    let (lower, upper, _) = ranks(p, n);
                    let values: Vec<f64> = [lower, upper][..if upper == lower { 1 } else { 2 }]
                        .iter()
                        .filter_map(|rank| rows.iter().find(|r| r.rank == *rank).map(|r| r.hours))
                        .collect();
                    interpolate(p, n, &values)
                }))
            };
            let [accept_median, accept_p90] = both(Duration::Accept)?;
            let [resolve_median, resolve_p90] = both(Duration::Resolve)?;
            Ok(Timings {
                accept_median,
                accept_p90,
                resolve_median,
                resolve_p90,
            })
        }
    }
}

// ------------------------------------------------------- per child unit

/// The units directly below `parent_id`, in no particular order.
pub fn children(conn: &mut AnyConnection, parent_id: i64) -> QueryResult<Vec<UnitRow>> {
    units::table
        .filter(units::parent_id.eq(parent_id))
        .select(UnitRow::as_select())
        .load(conn)
}

/// A [`Group`] for one child unit's subtree.
#[derive(QueryableByName, Debug)]
pub struct ChildGroup {
    #[diesel(sql_type = BigInt)]
    pub child_id: i64,
    #[diesel(embed)]
    pub group: Group,
}

/// Every unit below `parent`, paired with the child of `parent` it is under
/// (read off its path `/…/parent/child/…/`): a few thousand pairs at most.
pub fn child_map(conn: &mut AnyConnection, parent: &UnitRow) -> QueryResult<Vec<(i64, i64)>> {
    let units = super::queries::subtree(conn, &parent.path, false)?;
    Ok(units
        .iter()
        .filter_map(|u| {
            let child = u.path.strip_prefix(&parent.path)?.split('/').next()?.parse().ok()?;
            Some((u.id, child))
        })
        .collect())
}

/// `WITH` clause naming `s(ticket_id, child_id)`: a ticket once for every
/// child of `parent` whose subtree it has been in (each child's `Subtree`
/// scope, for all children in one pass). The unit-to-child pairs go in as
/// literal rows, so the planner knows their number and hashes them.
fn per_child(parent: &UnitRow, map: &[(i64, i64)], conditions: &str) -> String {
    let rows = map
        .iter()
        .map(|(unit, child)| format!("({unit}, {child})"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = if rows.is_empty() || !is_server_path(&parent.path) {
        "(0, 0)".to_owned()
    } else {
        rows
    };
    format!(
        "WITH m(unit_id, child_id) AS (VALUES {rows}), \
         s AS (SELECT v.ticket_id AS ticket_id, m.child_id AS child_id FROM ticket_visits v \
         JOIN m ON m.unit_id = v.unit_id WHERE v.ticket_id IN (SELECT t.id FROM tickets t WHERE {conditions}) \
         GROUP BY v.ticket_id, m.child_id) "
    )
}

/// Tickets of the parent's community filed in the period (a ticket only
/// ever visits units of its own community).
fn child_conditions(parent: &UnitRow, from: NaiveDateTime, to: NaiveDateTime, postgres: bool) -> String {
    match community_of(&parent.path) {
        Some(community) => format!("t.community_id = {community} AND {}", period(from, to, postgres)),
        None => "1 = 0".to_owned(),
    }
}

/// [`groups`] for each child of `parent` (children without tickets have no rows).
pub fn child_groups(
    conn: &mut AnyConnection,
    parent: &UnitRow,
    map: &[(i64, i64)],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<ChildGroup>> {
    load(conn, |pg| {
        format!(
            "{}SELECT CAST(g.child_id AS BIGINT) AS child_id, g.status AS status, g.kind AS kind, g.category_id AS category_id, \
             r.level AS resolved_level, {RESUMS} \
             FROM (SELECT s.child_id AS child_id, t.status AS status, t.kind AS kind, t.category_id AS category_id, \
             t.resolved_unit_id AS resolved_unit_id, {} FROM s JOIN tickets t ON t.id = s.ticket_id WHERE {} \
             GROUP BY s.child_id, t.status, t.kind, t.category_id, t.resolved_unit_id) g \
             LEFT JOIN units r ON r.id = g.resolved_unit_id \
             GROUP BY g.child_id, g.status, g.kind, g.category_id, r.level",
            per_child(parent, map, &child_conditions(parent, from, to, pg)),
            sums(),
            child_conditions(parent, from, to, pg)
        )
    })
}

#[derive(QueryableByName, Debug)]
struct ChildRanked {
    #[diesel(sql_type = BigInt)]
    which: i64,
    #[diesel(sql_type = BigInt)]
    child_id: i64,
    #[diesel(sql_type = BigInt)]
    rank: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Double)]
    hours: f64,
}

/// [`timings`] for each child of `parent` (children without tickets are
/// absent): one sort per duration over all children, reading back only the
/// ranks each child's percentiles need.
pub fn child_timings(
    conn: &mut AnyConnection,
    parent: &UnitRow,
    map: &[(i64, i64)],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<BTreeMap<i64, Timings>> {
    // Both durations in one statement: the ticket-to-child pairs are found once.
    let rows: Vec<ChildRanked> = load(conn, |pg| {
        // The ranks ⌊p·(n−1)⌋ and the one after (SQLite's CAST truncates,
        // PostgreSQL's rounds).
        let wanted = PERCENTILES
            .map(|p| {
                let lower = if pg {
                    format!("FLOOR({p}::float8 * (r.n - 1))")
                } else {
                    format!("CAST({p} * (r.n - 1) AS INTEGER)")
                };
                format!("r.rank = {lower} OR r.rank = {lower} + 1")
            })
            .join(" OR ");
        let conditions = child_conditions(parent, from, to, pg);
        let ranked = |which: i64, column: &str| {
            format!(
                "SELECT {which} AS which, child_id, {column} AS hours, \
                 ROW_NUMBER() OVER (PARTITION BY child_id ORDER BY {column}) - 1 AS rank, \
                 COUNT(*) OVER (PARTITION BY child_id) AS n FROM d WHERE {column} IS NOT NULL"
            )
        };
        format!(
            "{}, d AS MATERIALIZED (SELECT s.child_id AS child_id, {} AS a, {} AS r FROM s \
             JOIN tickets t ON t.id = s.ticket_id WHERE {conditions}), \
             r AS ({} UNION ALL {}) \
             SELECT CAST(r.which AS BIGINT) AS which, CAST(r.child_id AS BIGINT) AS child_id, r.rank AS rank, \
             r.n AS n, r.hours AS hours FROM r WHERE {wanted}",
            per_child(parent, map, &conditions).trim_end(),
            hours(Duration::Accept, pg),
            hours(Duration::Resolve, pg),
            ranked(0, "d.a"),
            ranked(1, "d.r"),
        )
    })?;
    let mut out: BTreeMap<i64, Timings> = BTreeMap::new();
    for duration in [Duration::Accept, Duration::Resolve] {
        let which = i64::from(duration == Duration::Resolve);
        let rows = rows.iter().filter(|r| r.which == which);
        let mut by_child: BTreeMap<i64, (i64, BTreeMap<i64, f64>)> = BTreeMap::new();
        for row in rows {
            let entry = by_child.entry(row.child_id).or_insert((row.n, BTreeMap::new()));
            entry.1.insert(row.rank, row.hours);
        }
        for (child, (n, at)) in by_child {
            let t = out.entry(child).or_default();
            let [median, p90] = PERCENTILES.map(|p| {
                let (lower, upper, _) = ranks(p, n);
                let values: Vec<f64> = [lower, upper]
                    .iter()
                    .take(if upper == lower { 1 } else { 2 })
                    .filter_map(|rank| at.get(rank).copied())
                    .collect();
                interpolate(p, n, &values)
            });
            match duration {
                Duration::Accept => (t.accept_median, t.accept_p90) = (median, p90),
                Duration::Resolve => (t.resolve_median, t.resolve_p90) = (median, p90),
            }
        }
    }
    Ok(out)
}
