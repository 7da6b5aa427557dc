//! Statistics over a subtree and a period, in a few aggregate queries.
//! Written per backend: percentiles and date arithmetic differ. Values in
//! the SQL are ids and server-formatted timestamps only.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};

use super::AnyConnection;
use crate::domain::grid::is_server_path;

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

/// Median and 90th percentile, in hours, of signing for and of resolving.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timings {
    pub accept_median: Option<f64>,
    pub accept_p90: Option<f64>,
    pub resolve_median: Option<f64>,
    pub resolve_p90: Option<f64>,
}

fn stamp(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// `WHERE` conditions for the scope and period.
fn conditions(scope: &StatsScope, from: NaiveDateTime, to: NaiveDateTime, postgres: bool) -> String {
    let cast = if postgres { "::timestamp" } else { "" };
    let scope = match scope {
        StatsScope::Community(id) => format!("t.community_id = {id}"),
        // Set-based (not a correlated EXISTS): statistics read every ticket in scope.
        StatsScope::Subtree(path) if is_server_path(path) => format!(
            "t.id IN (SELECT v.ticket_id FROM ticket_visits v JOIN units u ON u.id = v.unit_id \
             WHERE u.path LIKE '{path}%')"
        ),
        StatsScope::Subtree(_) => "1 = 0".to_owned(),
    };
    format!(
        "{scope} AND t.created_at >= '{}'{cast} AND t.created_at < '{}'{cast}",
        stamp(from),
        stamp(to)
    )
}

pub fn groups(
    conn: &mut AnyConnection,
    scope: &StatsScope,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<Group>> {
    // A deadline counts as missed when the worker flagged it, or when the
    // sign-for or resolution came after it.
    let sql = |pg| {
        format!(
            "SELECT t.status AS status, t.kind AS kind, t.category_id AS category_id, r.level AS resolved_level, \
             COUNT(*) AS count, \
             SUM(CASE WHEN t.accept_breached_at IS NOT NULL OR t.resolve_breached_at IS NOT NULL \
                 OR t.accepted_at > t.accept_due_at OR t.resolved_at > t.resolve_due_at THEN 1 ELSE 0 END) AS breached, \
             SUM(CASE WHEN t.reopen_count > 0 THEN 1 ELSE 0 END) AS reopened, \
             COUNT(t.rating) AS rated, COALESCE(SUM(t.rating), 0) AS rating_sum \
             FROM tickets t LEFT JOIN units r ON r.id = t.resolved_unit_id \
             WHERE {} GROUP BY t.status, t.kind, t.category_id, r.level",
            conditions(scope, from, to, pg)
        )
    };
    match conn {
        AnyConnection::Postgres(c) => diesel::sql_query(sql(true)).load(c),
        AnyConnection::Sqlite(c) => diesel::sql_query(sql(false)).load(c),
    }
}

/// Hours from filing to signing for, and from filing to resolution.
pub fn timings(
    conn: &mut AnyConnection,
    scope: &StatsScope,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Timings> {
    match conn {
        AnyConnection::Postgres(c) => {
            // One sort per duration: the array form computes both percentiles at once.
            let sql = format!(
                "SELECT a[1] AS accept_median, a[2] AS accept_p90, r[1] AS resolve_median, r[2] AS resolve_p90 FROM (SELECT \
                 percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (t.accepted_at - t.created_at))::float8 / 3600.0) AS a, \
                 percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (t.resolved_at - t.created_at))::float8 / 3600.0) AS r \
                 FROM tickets t WHERE {}) p",
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
            // Sort inside SQLite, once per duration, and read back only the
            // ranks around the median and the 90th percentile.
            let mut both = |column: &str| -> QueryResult<(Option<f64>, Option<f64>)> {
                let sql = format!(
                    "WITH d AS (SELECT (julianday(t.{column}) - julianday(t.created_at)) * 24.0 AS hours FROM tickets t \
                     WHERE {} AND t.{column} IS NOT NULL), \
                     r AS (SELECT hours, ROW_NUMBER() OVER (ORDER BY hours) - 1 AS rank, COUNT(*) OVER () AS n FROM d) \
                     SELECT hours, rank, n FROM r WHERE rank IN (CAST(0.5 * (n - 1) AS INTEGER), \
                     CAST(0.5 * (n - 1) AS INTEGER) + 1, CAST(0.9 * (n - 1) AS INTEGER), CAST(0.9 * (n - 1) AS INTEGER) + 1) \
                     ORDER BY rank",
                    conditions(scope, from, to, false)
                );
                let rows = diesel::sql_query(sql).load::<Ranked>(c)?;
                Ok((interpolate(&rows, 0.5), interpolate(&rows, 0.9)))
            };
            let (accept_median, accept_p90) = both("accepted_at")?;
            let (resolve_median, resolve_p90) = both("resolved_at")?;
            Ok(Timings {
                accept_median,
                accept_p90,
                resolve_median,
                resolve_p90,
            })
        }
    }
}

/// The `p` percentile from the rows at ranks ⌊p·(n−1)⌋ and the one after,
/// interpolated as PostgreSQL's `percentile_cont` does.
fn interpolate(rows: &[Ranked], p: f64) -> Option<f64> {
    let n = rows.first()?.n;
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let exact = p * (n - 1) as f64;
    #[allow(clippy::cast_possible_truncation)]
    let lower = exact.floor() as i64;
    let at = |rank: i64| rows.iter().find(|r| r.rank == rank).map(|r| r.hours);
    let low = at(lower)?;
    let high = at(lower + 1).unwrap_or(low);
    #[allow(clippy::cast_precision_loss)]
    Some(low + (high - low) * (exact - lower as f64))
}

#[derive(QueryableByName, Debug)]
struct Ranked {
    #[diesel(sql_type = Double)]
    hours: f64,
    #[diesel(sql_type = BigInt)]
    rank: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}
