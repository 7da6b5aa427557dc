//! `GET /api/v1/stats/units`: the league table of a unit's child units,
//! each with the metrics of `/stats` for its subtree.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Durations, Period, Tally, number, unit_and_period, wants_csv};
use crate::api::QueryParams;
use crate::api::csv::{self, Lines, Record};
use crate::api::local_time::{Month, TimeBound};
use crate::api::problems::{NotFound, Unauthorized, ValidationFailed};
use crate::auth::Auth;
use crate::db::queries;
use crate::db::stats::{self, Populations};
use crate::domain::grid::Level;
use crate::domain::ids::UnitId;
use crate::error::{ApiError, Invalid, Text};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitStatsQuery {
    /// The unit whose child units are compared (required; not a household).
    #[param(required = true)]
    pub parent_id: Option<i64>,
    /// Tickets filed at or after this time, or from the start of this day
    /// (default 30 days before `to`).
    #[serde(default, deserialize_with = "crate::api::local_time::optional_bound")]
    pub from: Option<TimeBound>,
    /// Tickets filed before this time, or up to the end of this day
    /// (default now).
    #[serde(default, deserialize_with = "crate::api::local_time::optional_bound")]
    pub to: Option<TimeBound>,
    /// A calendar month instead of `from` and `to`: `2026-11` is 1 to 30
    /// November in the deployment's time zone. 按自然月统计。
    #[serde(default, deserialize_with = "crate::api::local_time::optional_month")]
    pub month: Option<Month>,
}

/// One child unit's line in the league table: the metrics of `/stats` for
/// its subtree (without the per-category counts).
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitStatsRow {
    pub unit_id: UnitId,
    pub name: String,
    pub code: Option<String>,
    /// `branch`, `building` or `household`.
    pub level: Level,
    /// Tickets filed in the period that have been at the unit or below it.
    pub total: i64,
    pub by_status: BTreeMap<String, i64>,
    pub by_kind: BTreeMap<String, i64>,
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

/// A league table: one row per child unit of `parent_id`, every child
/// present (zeros and `null` rates when nothing was filed), ordered by code
/// (units without a code last), then name, then id.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "parent_id": 1, "from": "2026-10-29T00:00:00Z", "to": "2026-11-28T00:00:00Z",
    "items": [{"unit_id": 2, "name": "军门小区党支部", "code": "JM-B1", "level": "branch", "total": 140,
        "by_status": {"assigned": 4, "accepted": 7, "resolved": 10, "closed": 110, "withdrawn": 3, "rejected": 4, "referred": 1, "merged": 1},
        "by_kind": {"complaint": 129, "dispute": 11},
        "resolved": 120, "resolved_by_level": {"household": 50, "building": 41, "branch": 20, "committee": 9},
        "resolved_within_building_rate": 0.758,
        "accept_hours": {"median": 5.0, "p90": 19.5}, "resolve_hours": {"median": 38.2, "p90": 104.0},
        "breach_rate": 0.07, "average_rating": 4.5, "reopen_rate": 0.02},
      {"unit_id": 11, "name": "凤凰小区党支部", "code": "JM-B2", "level": "branch", "total": 0,
        "by_status": {"assigned": 0, "accepted": 0, "resolved": 0, "closed": 0, "withdrawn": 0, "rejected": 0, "referred": 0, "merged": 0},
        "by_kind": {"complaint": 0, "dispute": 0},
        "resolved": 0, "resolved_by_level": {"household": 0, "building": 0, "branch": 0, "committee": 0},
        "resolved_within_building_rate": null,
        "accept_hours": {"median": null, "p90": null}, "resolve_hours": {"median": null, "p90": null},
        "breach_rate": null, "average_rating": null, "reopen_rate": null}]}))]
pub struct UnitStatsResponse {
    pub parent_id: UnitId,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub from: DateTime<Utc>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub to: DateTime<Utc>,
    pub items: Vec<UnitStatsRow>,
}

impl UnitStatsResponse {
    /// A header, then one line per child unit.
    fn csv(&self) -> Result<Vec<u8>, ApiError> {
        let zero = Tally::default();
        let mut header: Vec<String> = ["unit_id", "code", "name", "level", "total"].map(String::from).into();
        header.extend(zero.by_status.keys().map(|k| format!("status.{k}")));
        header.extend(zero.by_kind.keys().map(|k| format!("kind.{k}")));
        header.push("resolved".into());
        header.extend(zero.resolved_by_level.keys().map(|k| format!("resolved_at.{k}")));
        header.extend(
            [
                "resolved_within_building_rate",
                "accept_hours.median",
                "accept_hours.p90",
                "resolve_hours.median",
                "resolve_hours.p90",
                "breach_rate",
                "average_rating",
                "reopen_rate",
            ]
            .map(String::from),
        );
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut lines = Lines::file(&header)?;
        let counts = |record: &mut Record, keys: &BTreeMap<String, i64>, values: &BTreeMap<String, i64>| {
            for k in keys.keys() {
                record.plain(values.get(k).copied().unwrap_or(0));
            }
        };
        for row in &self.items {
            let mut record = Record::default();
            // Names and codes are typed by admins.
            record
                .plain(row.unit_id)
                .optional_text(row.code.as_deref())
                .text(&row.name)
                .plain(row.level.as_str())
                .plain(row.total);
            counts(&mut record, &zero.by_status, &row.by_status);
            counts(&mut record, &zero.by_kind, &row.by_kind);
            record.plain(row.resolved);
            counts(&mut record, &zero.resolved_by_level, &row.resolved_by_level);
            for value in [
                row.resolved_within_building_rate,
                row.accept_hours.median,
                row.accept_hours.p90,
                row.resolve_hours.median,
                row.resolve_hours.p90,
                row.breach_rate,
                row.average_rating,
                row.reopen_rate,
            ] {
                record.plain(number(value));
            }
            lines.push(&record)?;
        }
        lines.into_bytes()
    }
}

/// Statistics per child unit (league table)
///
/// One row per unit directly below `parent_id`, with the metrics of
/// `/stats` for that unit's subtree and period (by filing time): counts by
/// status and kind; where tickets were resolved (the "小事不出楼栋" rate);
/// median and 90th-percentile hours to sign for and to resolve; the deadline
/// breach rate; the average rating; the reopen rate. A ticket counts for
/// every child whose subtree it has been in, so the rows may add up to more
/// than the parent's total. Every child has a row, also without tickets.
/// Rows are ordered by code (units without a code last), then name, then id.
/// For staff and admins whose posts cover the parent unit; a household has
/// no child units (422 naming `parent_id`). Send `Accept: text/csv` for CSV
/// (UTF-8 with a byte-order mark, CRLF line ends): a header row, then one
/// line per child in the same order; a name or code that begins with `=`,
/// `+`, `-`, `@`, a tab or a carriage return is written with a `'` in front,
/// so a spreadsheet shows it instead of running it.
#[utoipa::path(
    tag = "statistics",
    params(UnitStatsQuery),
    responses(
        (status = 200, description = "One row per child unit.", content(
            (UnitStatsResponse = "application/json"),
            (String = "text/csv", example = "unit_id,code,name,level,total,status.accepted,status.assigned,status.closed,status.merged,status.referred,status.rejected,status.resolved,status.withdrawn,kind.complaint,kind.dispute,resolved,resolved_at.branch,resolved_at.building,resolved_at.committee,resolved_at.household,resolved_within_building_rate,accept_hours.median,accept_hours.p90,resolve_hours.median,resolve_hours.p90,breach_rate,average_rating,reopen_rate\r\n2,JM-B1,军门小区党支部,branch,140,7,4,110,1,1,4,10,3,129,11,120,20,41,9,50,0.758,5.000,19.500,38.200,104.000,0.070,4.500,0.020\r\n")
        )),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"from": ["after_to"], "month": ["with_from_to"], "parent_id": ["no_child_units"]})))
)]
#[get("/stats/units")]
async fn get_unit_stats(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    query: QueryParams<UnitStatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.0;
    let (parent_id, from, to) = unit_and_period(
        ("parent_id", query.parent_id),
        Period {
            from: query.from,
            to: query.to,
            month: query.month,
        },
        state.time_zone,
        state.clock.now(),
        Text::new(
            "Name the unit whose child units to compare.",
            "请指定要比较其下级单元的单元。",
        ),
    )?;
    let caller = auth.caller;
    let response = state
        .db
        .run_long(move |conn| {
            let parent = queries::find_unit(conn, parent_id)?.ok_or(ApiError::NotFound)?;
            if !caller.works_in(&parent.path) {
                return Err(ApiError::NotFound);
            }
            if parent.level == Level::Household {
                return Err(ApiError::field(
                    "parent_id",
                    Invalid::new(
                        "no_child_units",
                        "A household has no units below it.",
                        "党员中心户没有下级单元。",
                    ),
                ));
            }
            let (from_naive, to_naive) = (from.naive_utc(), to.naive_utc());
            let (mut children, groups, timings) = stats::snapshot(conn, |conn| {
                let children = stats::children(conn, parent.id)?;
                let ids: Vec<i64> = children.iter().map(|c| c.id).collect();
                if ids.is_empty() {
                    return Ok((children, Vec::new(), BTreeMap::new()));
                }
                let groups = stats::groups(conn, &ids, from_naive, to_naive)?;
                let timings = stats::timings(conn, &Populations::of(&groups), from_naive, to_naive)?;
                Ok((children, groups, timings))
            })?;
            children.sort_by(|a, b| {
                (a.code.is_none(), &a.code, &a.name, a.id).cmp(&(b.code.is_none(), &b.code, &b.name, b.id))
            });
            let mut tallies: BTreeMap<i64, Tally> = BTreeMap::new();
            for g in &groups {
                tallies.entry(g.unit_id).or_default().add(&g.group);
            }
            let items = children
                .into_iter()
                .map(|child| {
                    let m = tallies
                        .remove(&child.id)
                        .unwrap_or_default()
                        .metrics(timings.get(&child.id).copied().unwrap_or_default());
                    UnitStatsRow {
                        unit_id: UnitId(child.id),
                        name: child.name,
                        code: child.code,
                        level: child.level,
                        total: m.total,
                        by_status: m.by_status,
                        by_kind: m.by_kind,
                        resolved: m.resolved,
                        resolved_by_level: m.resolved_by_level,
                        resolved_within_building_rate: m.resolved_within_building_rate,
                        accept_hours: m.accept_hours,
                        resolve_hours: m.resolve_hours,
                        breach_rate: m.breach_rate,
                        average_rating: m.average_rating,
                        reopen_rate: m.reopen_rate,
                    }
                })
                .collect();
            Ok(UnitStatsResponse {
                parent_id: UnitId(parent.id),
                from,
                to,
                items,
            })
        })
        .await?;
    if wants_csv(&req) {
        return Ok(HttpResponse::Ok().content_type(csv::CONTENT_TYPE).body(response.csv()?));
    }
    Ok(HttpResponse::Ok().json(response))
}
