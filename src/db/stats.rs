//! Statistics over units' subtrees and a period, in a few aggregate queries.
//! Written per backend where percentiles differ. Values in the SQL are ids
//! and server-formatted timestamps only.
//!
//! At a million tickets the cost is reading rows, so every query here reads
//! `ticket_reach` (migration `000009_ticket_reach`): one narrow row per
//! ticket per unit it has been at or below, kept by database triggers, keyed
//! by `(unit_id, created_at, …)`. A unit's period is one range of that key,
//! with every counted column in it: no join to visits or tickets, and the
//! same query for a community, a subtree, or every child of a unit at once.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};

use super::AnyConnection;
use super::models::UnitRow;
use super::schema::units;
use crate::error::ApiError;

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

/// A [`Group`] of one unit's subtree.
#[derive(QueryableByName, Debug)]
pub struct UnitGroup {
    #[diesel(sql_type = BigInt)]
    pub unit_id: i64,
    #[diesel(embed)]
    pub group: Group,
}

/// How many durations each unit's percentiles are taken over.
#[derive(Debug, Default, Clone, Copy)]
pub struct Populations {
    pub accepted: i64,
    pub resolved: i64,
}

impl Populations {
    /// Per unit, from its groups.
    pub fn of(groups: &[UnitGroup]) -> BTreeMap<i64, Self> {
        let mut out: BTreeMap<i64, Self> = BTreeMap::new();
        for g in groups {
            let p = out.entry(g.unit_id).or_default();
            p.accepted += g.group.accepted;
            p.resolved += g.group.resolved;
        }
        out
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

// What `ticket_reach` holds per ticket and unit (its triggers compute it
// from the ticket and `ticket_breaches`): `breached` is 1 when the ticket
// missed a deadline while held at that unit or below it (migration
// `000024_breach_record`); `reopened` is 1 when reopened at least once;
// `accept_hours` and `resolve_hours` are the hours from filing to the (last)
// sign-for and to resolution, NULL until then.

/// The per-ticket sums of a [`Group`], over `r`.
const SUMS: &str = "COUNT(*) AS count, CAST(SUM(r.breached) AS BIGINT) AS breached, \
    CAST(SUM(r.reopened) AS BIGINT) AS reopened, COUNT(r.rating) AS rated, \
    CAST(COALESCE(SUM(r.rating), 0) AS BIGINT) AS rating_sum, \
    COUNT(r.accept_hours) AS accepted, COUNT(r.resolve_hours) AS resolved";

/// The same sums, added up over pre-aggregated rows `g`.
const RESUMS: &str = "CAST(SUM(g.count) AS BIGINT) AS count, CAST(SUM(g.breached) AS BIGINT) AS breached, \
    CAST(SUM(g.reopened) AS BIGINT) AS reopened, CAST(SUM(g.rated) AS BIGINT) AS rated, \
    CAST(SUM(g.rating_sum) AS BIGINT) AS rating_sum, CAST(SUM(g.accepted) AS BIGINT) AS accepted, \
    CAST(SUM(g.resolved) AS BIGINT) AS resolved";

/// `t` as an SQL timestamp literal. PostgreSQL's text form has no year 0
/// (it counts 1 BC), so a bound before 0001-01-01, which no ticket can
/// precede, is written as that day.
fn stamp(t: NaiveDateTime) -> String {
    let first = chrono::NaiveDate::from_ymd_opt(1, 1, 1).map(|d| d.and_time(chrono::NaiveTime::MIN));
    let t = first.map_or(t, |first| t.max(first));
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// The rows of tickets filed in `[from, to)` that have been at one of
/// `unit_ids` or below it.
fn conditions(unit_ids: &[i64], from: NaiveDateTime, to: NaiveDateTime, postgres: bool) -> String {
    let cast = if postgres { "::timestamp" } else { "" };
    let units = if unit_ids.is_empty() {
        "r.unit_id IS NULL".to_owned()
    } else {
        let ids = unit_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        format!("r.unit_id IN ({ids})")
    };
    format!(
        "{units} AND r.created_at >= '{}'{cast} AND r.created_at < '{}'{cast}",
        stamp(from),
        stamp(to)
    )
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

/// [`Group`]s of the subtrees of each of `unit_ids` (a unit without tickets
/// in the period has no rows).
pub fn groups(
    conn: &mut AnyConnection,
    unit_ids: &[i64],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<UnitGroup>> {
    // Aggregate by resolving unit first and look up its level afterwards:
    // a join per ticket costs more than the whole lookup.
    load(conn, |pg| {
        format!(
            "SELECT CAST(g.unit_id AS BIGINT) AS unit_id, g.status AS status, g.kind AS kind, \
             g.category_id AS category_id, u.level AS resolved_level, {RESUMS} \
             FROM (SELECT r.unit_id AS unit_id, r.status AS status, r.kind AS kind, r.category_id AS category_id, \
             r.resolved_unit_id AS resolved_unit_id, {SUMS} FROM ticket_reach r WHERE {} \
             GROUP BY r.unit_id, r.status, r.kind, r.category_id, r.resolved_unit_id) g \
             LEFT JOIN units u ON u.id = g.resolved_unit_id \
             GROUP BY g.unit_id, g.status, g.kind, g.category_id, u.level",
            conditions(unit_ids, from, to, pg)
        )
    })
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

#[derive(QueryableByName, Debug)]
struct Ranked {
    #[diesel(sql_type = BigInt)]
    target: i64,
    #[diesel(sql_type = Double)]
    hours: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Duration {
    Accept,
    Resolve,
}

/// Hours from filing to signing for, and from filing to resolution, in the
/// subtree of each unit of `populations`: median and 90th percentile as
/// PostgreSQL's `percentile_cont` defines them. `populations` are the counts
/// of each duration per unit in the same scope (from [`groups`], in the same
/// [`snapshot`]): with them each percentile is two rows read at a known rank,
/// walking the unit's duration index from its nearer end instead of sorting.
pub fn timings(
    conn: &mut AnyConnection,
    populations: &BTreeMap<i64, Populations>,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<BTreeMap<i64, Timings>> {
    let targets: Vec<(i64, Duration, f64, i64)> = populations
        .iter()
        .flat_map(|(&unit, p)| {
            [
                (unit, Duration::Accept, p.accepted),
                (unit, Duration::Resolve, p.resolved),
            ]
        })
        .filter(|(_, _, n)| *n > 0)
        .flat_map(|(unit, d, n)| PERCENTILES.map(|p| (unit, d, p, n)))
        .collect();
    if targets.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<Ranked> = load(conn, |pg| {
        targets
            .iter()
            .enumerate()
            .map(|(i, &(unit, duration, p, n))| {
                let (lower, upper, _) = ranks(p, n);
                let count = upper - lower + 1;
                // From the nearer end: ascending from `lower`, or descending
                // from the last rank down to `upper`.
                let (order, offset) = if lower <= n - 1 - upper {
                    ("", lower)
                } else {
                    (" DESC", n - 1 - upper)
                };
                let column = match duration {
                    Duration::Accept => "accept_hours",
                    Duration::Resolve => "resolve_hours",
                };
                // SQLite's planner, without table statistics, would rather
                // sort the period than walk the index: name the index.
                let index = if pg {
                    String::new()
                } else {
                    format!(" INDEXED BY ticket_reach_{column}_idx")
                };
                format!(
                    "SELECT CAST({i} AS BIGINT) AS target, x.hours AS hours FROM (SELECT r.{column} AS hours \
                     FROM ticket_reach r{index} WHERE {} AND r.{column} IS NOT NULL \
                     ORDER BY r.{column}{order} LIMIT {count} OFFSET {offset}) x",
                    conditions(&[unit], from, to, pg)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    })?;
    let mut out: BTreeMap<i64, Timings> = BTreeMap::new();
    for (i, &(unit, duration, p, n)) in targets.iter().enumerate() {
        let mut values: Vec<f64> = rows
            .iter()
            .filter(|r| usize::try_from(r.target).is_ok_and(|t| t == i))
            .map(|r| r.hours)
            .collect();
        values.sort_by(f64::total_cmp);
        let value = interpolate(p, n, &values);
        let t = out.entry(unit).or_default();
        match (duration, p > 0.5) {
            (Duration::Accept, false) => t.accept_median = value,
            (Duration::Accept, true) => t.accept_p90 = value,
            (Duration::Resolve, false) => t.resolve_median = value,
            (Duration::Resolve, true) => t.resolve_p90 = value,
        }
    }
    Ok(out)
}

/// The units directly below `parent_id`, in no particular order.
pub fn children(conn: &mut AnyConnection, parent_id: i64) -> QueryResult<Vec<UnitRow>> {
    units::table
        .filter(units::parent_id.eq(parent_id))
        .select(UnitRow::as_select())
        .load(conn)
}
