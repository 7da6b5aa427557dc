//! Statistics a committee reports: counts, where tickets were resolved
//! ("小事不出楼栋"), how fast, deadline breaches, ratings and reopenings.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::QueryParams;
use super::csv::{self, Lines, Record};
use super::local_time::{Month, TimeBound, local_rfc3339};
use super::problems::{NotFound, Unauthorized, ValidationFailed};
use crate::auth::Auth;
use crate::db::stats::{self, Group, Populations, Timings};
use crate::db::{queries, tickets as db};
use crate::domain::grid::Level;
use crate::domain::ids::UnitId;
use crate::domain::ticket::{Kind, Status};
use crate::error::{ApiError, Invalid, Text, Validator};
use crate::state::AppState;

mod units;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(get_stats);
    cfg.service(units::get_unit_stats);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// The unit whose subtree is counted: tickets that have been at it or below.
    #[param(required = true)]
    pub unit_id: Option<i64>,
    /// Tickets filed at or after this time, or from the start of this day
    /// (default 30 days before `to`).
    #[serde(default, deserialize_with = "super::local_time::optional_bound")]
    pub from: Option<TimeBound>,
    /// Tickets filed before this time, or up to the end of this day
    /// (default now).
    #[serde(default, deserialize_with = "super::local_time::optional_bound")]
    pub to: Option<TimeBound>,
    /// A calendar month instead of `from` and `to`: `2026-11` is 1 to 30
    /// November in the deployment's time zone. 按自然月统计。
    #[serde(default, deserialize_with = "super::local_time::optional_month")]
    pub month: Option<Month>,
}

/// One category's count.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryCount {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub count: i64,
}

/// Median and 90th percentile, in hours.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Durations {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// Statistics for a subtree and period. Rates are shares from 0 to 1
/// (`null` when nothing was counted).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "unit_id": 1, "from": "2026-10-29T00:00:00Z", "to": "2026-11-28T00:00:00Z", "total": 412,
    "by_status": {"assigned": 12, "accepted": 20, "resolved": 31, "closed": 320, "withdrawn": 9, "rejected": 11, "referred": 4, "merged": 5},
    "by_kind": {"complaint": 380, "dispute": 32},
    "by_category": [{"code": "noise", "name_zh": "噪音扰民", "name_en": "Noise", "count": 97}],
    "resolved": 351, "resolved_by_level": {"household": 140, "building": 121, "branch": 60, "committee": 30},
    "resolved_within_building_rate": 0.744,
    "accept_hours": {"median": 5.2, "p90": 20.1}, "resolve_hours": {"median": 40.3, "p90": 110.0},
    "breach_rate": 0.08, "average_rating": 4.4, "reopen_rate": 0.03}))]
pub struct StatsResponse {
    pub unit_id: UnitId,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub from: DateTime<Utc>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub to: DateTime<Utc>,
    /// Tickets filed in the period that have been at the unit or below it.
    pub total: i64,
    pub by_status: BTreeMap<String, i64>,
    pub by_kind: BTreeMap<String, i64>,
    /// Largest first.
    pub by_category: Vec<CategoryCount>,
    /// Resolved or closed after resolution.
    pub resolved: i64,
    /// Resolved tickets by the level of the unit that resolved them.
    pub resolved_by_level: BTreeMap<String, i64>,
    /// Share resolved at household or building level (小事不出楼栋).
    pub resolved_within_building_rate: Option<f64>,
    /// Hours from filing to the (last) sign-for.
    pub accept_hours: Durations,
    /// Hours from filing to resolution.
    pub resolve_hours: Durations,
    /// Share of the tickets that missed a deadline (to sign for or to resolve) while held in the subtree.
    pub breach_rate: Option<f64>,
    /// Average of the reporters' ratings (1–5).
    pub average_rating: Option<f64>,
    /// Share of tickets reopened at least once.
    pub reopen_rate: Option<f64>,
}

impl StatsResponse {
    /// `metric,value` lines; `from` and `to` in `tz` with their offset.
    fn csv(&self, tz: Tz) -> Result<Vec<u8>, ApiError> {
        let metric = |name: &str, value: String| {
            let mut record = Record::default();
            record.plain(name).plain(value);
            record
        };
        let mut rows = vec![
            metric("unit_id", self.unit_id.to_string()),
            metric("from", local_rfc3339(&self.from, tz)),
            metric("to", local_rfc3339(&self.to, tz)),
            metric("total", self.total.to_string()),
        ];
        rows.extend(
            self.by_status
                .iter()
                .map(|(k, v)| metric(&format!("status.{k}"), v.to_string())),
        );
        rows.extend(
            self.by_kind
                .iter()
                .map(|(k, v)| metric(&format!("kind.{k}"), v.to_string())),
        );
        // A category's code is typed by an admin.
        rows.extend(self.by_category.iter().map(|c| {
            let mut record = Record::default();
            record.text(&format!("category.{}", c.code)).plain(c.count);
            record
        }));
        rows.push(metric("resolved", self.resolved.to_string()));
        rows.extend(
            self.resolved_by_level
                .iter()
                .map(|(k, v)| metric(&format!("resolved_at.{k}"), v.to_string())),
        );
        rows.extend([
            metric(
                "resolved_within_building_rate",
                number(self.resolved_within_building_rate),
            ),
            metric("accept_hours.median", number(self.accept_hours.median)),
            metric("accept_hours.p90", number(self.accept_hours.p90)),
            metric("resolve_hours.median", number(self.resolve_hours.median)),
            metric("resolve_hours.p90", number(self.resolve_hours.p90)),
            metric("breach_rate", number(self.breach_rate)),
            metric("average_rating", number(self.average_rating)),
            metric("reopen_rate", number(self.reopen_rate)),
        ]);
        let mut lines = Lines::file(&["metric", "value"])?;
        for row in &rows {
            lines.push(row)?;
        }
        lines.into_bytes()
    }
}

/// A rate or a number of hours in a CSV cell: three decimals, empty when
/// nothing was counted.
fn number(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_default()
}

#[allow(clippy::cast_precision_loss)]
fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Sums over [`Group`] rows, on the way to the metrics.
struct Tally {
    by_status: BTreeMap<String, i64>,
    by_kind: BTreeMap<String, i64>,
    resolved_by_level: BTreeMap<String, i64>,
    total: i64,
    breached: i64,
    reopened: i64,
    rated: i64,
    rating_sum: i64,
}

impl Default for Tally {
    /// Every status, kind and level present, at zero.
    fn default() -> Self {
        Self {
            by_status: Status::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect(),
            by_kind: Kind::ALL.iter().map(|k| (k.as_str().to_owned(), 0)).collect(),
            resolved_by_level: Level::ALL.iter().map(|l| (l.as_str().to_owned(), 0)).collect(),
            total: 0,
            breached: 0,
            reopened: 0,
            rated: 0,
            rating_sum: 0,
        }
    }
}

/// The metrics `/stats` and `/stats/units` share.
struct Metrics {
    total: i64,
    by_status: BTreeMap<String, i64>,
    by_kind: BTreeMap<String, i64>,
    resolved: i64,
    resolved_by_level: BTreeMap<String, i64>,
    resolved_within_building_rate: Option<f64>,
    accept_hours: Durations,
    resolve_hours: Durations,
    breach_rate: Option<f64>,
    average_rating: Option<f64>,
    reopen_rate: Option<f64>,
}

impl Tally {
    fn add(&mut self, g: &Group) {
        *self.by_status.entry(g.status.clone()).or_default() += g.count;
        *self.by_kind.entry(g.kind.clone()).or_default() += g.count;
        if let Some(level) = &g.resolved_level
            && (g.status == "resolved" || g.status == "closed")
        {
            *self.resolved_by_level.entry(level.clone()).or_default() += g.count;
        }
        self.total += g.count;
        self.breached += g.breached;
        self.reopened += g.reopened;
        self.rated += g.rated;
        self.rating_sum += g.rating_sum;
    }

    fn metrics(self, timings: Timings) -> Metrics {
        let resolved: i64 = self.resolved_by_level.values().sum();
        let within = self.resolved_by_level.get("household").copied().unwrap_or(0)
            + self.resolved_by_level.get("building").copied().unwrap_or(0);
        Metrics {
            total: self.total,
            by_status: self.by_status,
            by_kind: self.by_kind,
            resolved,
            resolved_by_level: self.resolved_by_level,
            resolved_within_building_rate: share(within, resolved),
            accept_hours: Durations {
                median: timings.accept_median,
                p90: timings.accept_p90,
            },
            resolve_hours: Durations {
                median: timings.resolve_median,
                p90: timings.resolve_p90,
            },
            breach_rate: share(self.breached, self.total),
            #[allow(clippy::cast_precision_loss)]
            average_rating: (self.rated > 0).then(|| self.rating_sum as f64 / self.rated as f64),
            reopen_rate: share(self.reopened, self.total),
        }
    }
}

/// The period a statistics call names: a calendar month, or `from` and
/// `to` (dates read in `tz`; `to` defaults to now, `from` to 30 days before
/// `to`).
struct Period {
    from: Option<TimeBound>,
    to: Option<TimeBound>,
    month: Option<Month>,
}

/// `time` moved into the years RFC 3339 can write (0000–9999).
fn within_rfc3339(time: DateTime<Utc>) -> DateTime<Utc> {
    let first = chrono::NaiveDate::from_ymd_opt(0, 1, 1).map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
    let last = chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|t| t.and_utc());
    match (first, last) {
        (Some(first), Some(last)) => time.clamp(first, last),
        _ => time,
    }
}

/// The unit a statistics call names (`field` is required) and its period.
fn unit_and_period(
    (field, unit_id): (&str, Option<i64>),
    period: Period,
    tz: Tz,
    now: DateTime<Utc>,
    missing: Text,
) -> Result<(i64, DateTime<Utc>, DateTime<Utc>), ApiError> {
    let mut v = Validator::default();
    let (from, to) = match period {
        Period {
            month: Some(month),
            from: None,
            to: None,
        } => month.bounds(tz),
        Period { month, from, to } => {
            if month.is_some() {
                v.push(
                    "month",
                    Invalid::new(
                        "with_from_to",
                        "Give `month`, or `from` and `to`, not both.",
                        "month 与 from、to 不能同时指定。",
                    ),
                );
            }
            let to = to.map_or(now, |t| t.end(tz));
            (from.map_or(to - Duration::days(30), |f| f.start(tz)), to)
        }
    };
    // The answer names its period in RFC 3339, whose years run 0000–9999:
    // a bound beyond (a month of year 0 read in a zone east of UTC, or the
    // end of 9999-12-31) counts from or to the edge, which holds no tickets.
    let (from, to) = (within_rfc3339(from), within_rfc3339(to));
    if unit_id.is_none() {
        v.push(
            field,
            Invalid {
                code: "required",
                message: missing,
            },
        );
    }
    if from >= to {
        v.push(
            "from",
            Invalid::new("after_to", "`from` must be before `to`.", "from 须早于 to。"),
        );
    }
    v.finish()?;
    Ok((unit_id.unwrap_or_default(), from, to))
}

fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().starts_with("text/csv")))
}

/// Statistics for a subtree
///
/// For a unit's subtree and a period (by filing time): counts by status, kind
/// and category; where tickets were resolved (the "小事不出楼栋" rate); median
/// and 90th-percentile hours to sign for and to resolve; the deadline breach
/// rate; the average rating; the reopen rate. For staff and admins whose
/// posts cover the unit. Send `Accept: text/csv` for CSV (`metric,value`):
/// UTF-8 with a byte-order mark (so Excel on Chinese Windows reads it), CRLF
/// line ends, `from` and `to` as local times in the deployment's time zone
/// with their offset (`2026-11-30T16:00:00+08:00`).
#[utoipa::path(
    tag = "statistics",
    params(StatsQuery),
    responses(
        (status = 200, description = "The statistics.", content(
            (StatsResponse = "application/json"),
            (String = "text/csv", example = "metric,value\r\nunit_id,1\r\nfrom,2026-10-29T08:00:00+08:00\r\nto,2026-11-28T08:00:00+08:00\r\ntotal,412\r\nstatus.accepted,20\r\n")
        )),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"from": ["after_to"], "month": ["with_from_to"]})))
)]
#[get("/stats")]
async fn get_stats(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    query: QueryParams<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.0;
    let (unit_id, from, to) = unit_and_period(
        ("unit_id", query.unit_id),
        Period {
            from: query.from,
            to: query.to,
            month: query.month,
        },
        state.time_zone,
        state.clock.now(),
        Text::new("Name the unit whose subtree to count.", "请指定统计的单元。"),
    )?;
    let caller = auth.caller;
    let response = state
        .db
        .run_long(move |conn| {
            let unit = queries::find_unit(conn, unit_id)?.ok_or(ApiError::NotFound)?;
            if !caller.works_in(&unit.path) {
                return Err(ApiError::NotFound);
            }
            let (from_naive, to_naive) = (from.naive_utc(), to.naive_utc());
            let (groups, timings) = stats::snapshot(conn, |conn| {
                let groups = stats::groups(conn, &[unit.id], from_naive, to_naive)?;
                let timings = stats::timings(conn, &Populations::of(&groups), from_naive, to_naive)?;
                Ok((groups, timings.get(&unit.id).copied().unwrap_or_default()))
            })?;
            let categories = db::list_categories(conn, true)?;

            let mut tally = Tally::default();
            let mut by_category_id: BTreeMap<i64, i64> = BTreeMap::new();
            for g in groups.iter().map(|g| &g.group) {
                tally.add(g);
                *by_category_id.entry(g.category_id).or_default() += g.count;
            }
            let mut by_category: Vec<CategoryCount> = categories
                .into_iter()
                .filter_map(|c| {
                    by_category_id.get(&c.id).map(|count| CategoryCount {
                        code: c.code,
                        name_zh: c.name_zh,
                        name_en: c.name_en,
                        count: *count,
                    })
                })
                .collect();
            by_category.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
            let m = tally.metrics(timings);
            Ok(StatsResponse {
                unit_id: UnitId(unit.id),
                from,
                to,
                total: m.total,
                by_status: m.by_status,
                by_kind: m.by_kind,
                by_category,
                resolved: m.resolved,
                resolved_by_level: m.resolved_by_level,
                resolved_within_building_rate: m.resolved_within_building_rate,
                accept_hours: m.accept_hours,
                resolve_hours: m.resolve_hours,
                breach_rate: m.breach_rate,
                average_rating: m.average_rating,
                reopen_rate: m.reopen_rate,
            })
        })
        .await?;
    if wants_csv(&req) {
        return Ok(HttpResponse::Ok()
            .content_type(csv::CONTENT_TYPE)
            .body(response.csv(state.time_zone)?));
    }
    Ok(HttpResponse::Ok().json(response))
}
