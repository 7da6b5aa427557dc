//! Statistics a committee reports: counts, where tickets were resolved
//! ("小事不出楼栋"), how fast, deadline breaches, ratings and reopenings.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::QueryParams;
use super::problems::{NotFound, Unauthorized, ValidationFailed};
use crate::auth::Auth;
use crate::db::stats::{self, StatsScope};
use crate::db::{queries, tickets as db};
use crate::domain::grid::{Level, community_of};
use crate::domain::ids::UnitId;
use crate::error::{ApiError, Invalid, Validator};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(get_stats);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// The unit whose subtree is counted: tickets that have been at it or below.
    pub unit_id: Option<i64>,
    /// Tickets filed at or after (RFC 3339; default 30 days before `to`).
    pub from: Option<DateTime<Utc>>,
    /// Tickets filed before (RFC 3339; default now).
    pub to: Option<DateTime<Utc>>,
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
#[derive(Debug, Serialize, ToSchema)]
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
    pub from: DateTime<Utc>,
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
    /// Share of tickets that missed a deadline to sign for or to resolve.
    pub breach_rate: Option<f64>,
    /// Average of the reporters' ratings (1–5).
    pub average_rating: Option<f64>,
    /// Share of tickets reopened at least once.
    pub reopen_rate: Option<f64>,
}

impl StatsResponse {
    fn csv(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            ("unit_id".into(), self.unit_id.to_string()),
            ("from".into(), self.from.to_rfc3339()),
            ("to".into(), self.to.to_rfc3339()),
            ("total".into(), self.total.to_string()),
        ];
        rows.extend(
            self.by_status
                .iter()
                .map(|(k, v)| (format!("status.{k}"), v.to_string())),
        );
        rows.extend(self.by_kind.iter().map(|(k, v)| (format!("kind.{k}"), v.to_string())));
        rows.extend(
            self.by_category
                .iter()
                .map(|c| (format!("category.{}", c.code), c.count.to_string())),
        );
        rows.push(("resolved".into(), self.resolved.to_string()));
        rows.extend(
            self.resolved_by_level
                .iter()
                .map(|(k, v)| (format!("resolved_at.{k}"), v.to_string())),
        );
        let num = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
        rows.push((
            "resolved_within_building_rate".into(),
            num(self.resolved_within_building_rate),
        ));
        rows.push(("accept_hours.median".into(), num(self.accept_hours.median)));
        rows.push(("accept_hours.p90".into(), num(self.accept_hours.p90)));
        rows.push(("resolve_hours.median".into(), num(self.resolve_hours.median)));
        rows.push(("resolve_hours.p90".into(), num(self.resolve_hours.p90)));
        rows.push(("breach_rate".into(), num(self.breach_rate)));
        rows.push(("average_rating".into(), num(self.average_rating)));
        rows.push(("reopen_rate".into(), num(self.reopen_rate)));
        let mut out = String::from("metric,value\r\n");
        for (metric, value) in rows {
            out.push_str(&format!("{metric},{value}\r\n"));
        }
        out
    }
}

#[allow(clippy::cast_precision_loss)]
fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
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
/// posts cover the unit. Send `Accept: text/csv` for CSV (`metric,value`).
#[utoipa::path(
    tag = "statistics",
    params(StatsQuery),
    responses(
        (status = 200, description = "The statistics.", content(
            (StatsResponse = "application/json"),
            (String = "text/csv", example = "metric,value\r\ntotal,412\r\nstatus.closed,320\r\n")
        )),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/stats")]
async fn get_stats(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    query: QueryParams<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.0;
    let to = query.to.unwrap_or_else(|| state.clock.now());
    let from = query.from.unwrap_or(to - Duration::days(30));
    let mut v = Validator::default();
    if query.unit_id.is_none() {
        v.push(
            "unit_id",
            Invalid::new(
                "required",
                "Name the unit whose subtree to count.",
                "请指定统计的单元。",
            ),
        );
    }
    if from >= to {
        v.push(
            "from",
            Invalid::new("after_to", "`from` must be before `to`.", "from 须早于 to。"),
        );
    }
    v.finish()?;
    let unit_id = query.unit_id.unwrap_or_default();
    let caller = auth.caller;
    let response = state
        .db
        .run(move |conn| {
            let unit = queries::find_unit(conn, unit_id)?.ok_or(ApiError::NotFound)?;
            if !caller.works_in(&unit.path) {
                return Err(ApiError::NotFound);
            }
            let scope = match (Level::parse(&unit.level), community_of(&unit.path)) {
                (Some(Level::Committee), Some(community)) => StatsScope::Community(community),
                _ => StatsScope::Subtree(unit.path.clone()),
            };
            let (from_naive, to_naive) = (from.naive_utc(), to.naive_utc());
            let groups = stats::groups(conn, &scope, from_naive, to_naive)?;
            let timings = stats::timings(conn, &scope, from_naive, to_naive)?;
            let categories = db::list_categories(conn, true)?;

            let mut by_status: BTreeMap<String, i64> = crate::domain::ticket::Status::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), 0))
                .collect();
            let mut by_kind: BTreeMap<String, i64> = [("complaint".to_owned(), 0), ("dispute".to_owned(), 0)].into();
            let mut by_category_id: BTreeMap<i64, i64> = BTreeMap::new();
            let mut resolved_by_level: BTreeMap<String, i64> =
                Level::ALL.iter().map(|l| (l.as_str().to_owned(), 0)).collect();
            let (mut total, mut breached, mut reopened, mut rated, mut rating_sum) = (0, 0, 0, 0, 0);
            for g in &groups {
                *by_status.entry(g.status.clone()).or_default() += g.count;
                *by_kind.entry(g.kind.clone()).or_default() += g.count;
                *by_category_id.entry(g.category_id).or_default() += g.count;
                if let Some(level) = &g.resolved_level
                    && (g.status == "resolved" || g.status == "closed")
                {
                    *resolved_by_level.entry(level.clone()).or_default() += g.count;
                }
                total += g.count;
                breached += g.breached;
                reopened += g.reopened;
                rated += g.rated;
                rating_sum += g.rating_sum;
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
            let resolved: i64 = resolved_by_level.values().sum();
            let within = resolved_by_level.get("household").copied().unwrap_or(0)
                + resolved_by_level.get("building").copied().unwrap_or(0);
            Ok(StatsResponse {
                unit_id: UnitId(unit.id),
                from,
                to,
                total,
                by_status,
                by_kind,
                by_category,
                resolved,
                resolved_by_level,
                resolved_within_building_rate: share(within, resolved),
                accept_hours: Durations {
                    median: timings.accept_median,
                    p90: timings.accept_p90,
                },
                resolve_hours: Durations {
                    median: timings.resolve_median,
                    p90: timings.resolve_p90,
                },
                breach_rate: share(breached, total),
                #[allow(clippy::cast_precision_loss)]
                average_rating: (rated > 0).then(|| rating_sum as f64 / rated as f64),
                reopen_rate: share(reopened, total),
            })
        })
        .await?;
    if wants_csv(&req) {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(response.csv()));
    }
    Ok(HttpResponse::Ok().json(response))
}
