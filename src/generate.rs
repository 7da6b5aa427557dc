//! `griddesk demo --tickets N`: fills the database with realistic tickets
//! spread over the demo community's units, categories, statuses and the last
//! two years, to measure lists and statistics at city scale. Rows are written
//! in batches straight to the backend's connection (`MultiConnection` cannot
//! batch-insert), with explicit ticket ids so that visits and events can
//! refer to them without reading ids back.

use std::time::Instant;

use chrono::{Duration, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::breaches::NewBreachRow;
use crate::db::models::{CategoryRow, NewEventRow, UserRow};
use crate::db::schema::{categories, ticket_breaches, ticket_events, ticket_visits, tickets, units, users};
use crate::db::tickets::search;
use crate::db::{AnyConnection, Db};
use crate::domain::ids::UnitId;
use crate::domain::notify::Deadline;
use crate::domain::sla::{Breach, late};
use crate::domain::ticket::{Kind, ServingChain, Status, route};
use crate::error::ApiError;

/// A generated ticket row, with its id.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tickets)]
struct GeneratedTicket {
    id: i64,
    kind: String,
    category_id: i64,
    title: String,
    description: String,
    location: Option<String>,
    anonymous: bool,
    priority: String,
    reporter_id: i64,
    community_id: i64,
    current_unit_id: i64,
    status: String,
    accept_due_at: NaiveDateTime,
    resolve_due_at: NaiveDateTime,
    accepted_at: Option<NaiveDateTime>,
    resolved_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    resolution: Option<String>,
    resolved_unit_id: Option<i64>,
    rating: Option<i32>,
    escalation_count: i32,
    arrived_from_unit_id: Option<i64>,
    merged_into_id: Option<i64>,
    referred_to: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ticket_visits)]
struct Visit {
    ticket_id: i64,
    unit_id: i64,
}

/// A resident and the units that serve them.
struct Home {
    user_id: i64,
    staff_id: i64,
    chain: ServingChain,
    parents: Vec<(i64, Option<i64>)>,
}

const PLACES: [&str; 6] = ["楼道", "电梯口", "地下车库", "小区东门", "绿化带", "单元门口"];
const ASKS: [&str; 4] = [
    "请尽快处理。",
    "已反映多次，希望落实。",
    "影响老人和孩子休息。",
    "希望社区协调解决。",
];

fn title_for(code: &str, rng: &mut StdRng) -> (&'static str, &'static str) {
    let options: &[(&str, &str)] = match code {
        "sanitation" => &[
            ("楼道垃圾无人清理", "垃圾堆放多日，气味很大"),
            ("绿化带被占用堆物", "有人在绿化带堆放建筑垃圾"),
        ],
        "ebike_safety" => &[
            ("电动车楼道充电", "有住户在楼道飞线充电"),
            ("电梯里推电动车", "电动车进电梯存在安全隐患"),
        ],
        "charging_pile" => &[
            ("申请安装充电桩", "希望车库增加充电桩"),
            ("充电桩损坏", "车库充电桩无法使用"),
        ],
        "noise" => &[
            ("楼上装修噪音", "早上七点开始电钻施工"),
            ("夜间噪音扰民", "深夜有人大声喧哗"),
        ],
        "leak" => &[
            ("楼上漏水", "卫生间漏水到我家天花板"),
            ("外墙渗水", "下雨时卧室外墙渗水"),
        ],
        "parking" => &[
            ("消防通道被占", "私家车长期占用消防通道"),
            ("车位被占用", "固定车位被外来车辆占用"),
        ],
        "property_management" => &[
            ("物业维修不及时", "门禁损坏两周未修"),
            ("物业费公示", "希望公示物业费使用情况"),
        ],
        "public_facilities" => &[
            ("路灯不亮", "小区路灯损坏晚上很黑"),
            ("健身器材损坏", "健身器材螺丝松动"),
        ],
        "elder_care" => &[
            ("老人助餐需求", "独居老人希望送餐上门"),
            ("适老化改造", "希望楼道加装扶手"),
        ],
        "childcare" => &[
            ("托育名额咨询", "希望了解社区托育名额"),
            ("入学咨询", "孩子入学需要居住证明"),
        ],
        "safety_hazard" => &[("电线老化", "楼道电线老化有火灾隐患"), ("井盖缺失", "小区道路井盖缺失")],
        "neighbour_dispute" => &[
            ("邻里漏水纠纷", "楼上漏水协商未果"),
            ("宠物扰民纠纷", "邻居家狗夜间吠叫"),
        ],
        "owners_dispute" => &[
            ("业主群矛盾", "公共区域停车收费争议"),
            ("业委会选举争议", "对选举程序有异议"),
        ],
        _ => &[("其他诉求", "需要社区帮助"), ("建议", "对社区工作的建议")],
    };
    options[rng.random_range(0..options.len())]
}

fn pick_status(rng: &mut StdRng, age_days: i64) -> Status {
    let roll = rng.random_range(0..100);
    if age_days < 14 {
        // Recent tickets are mostly still being worked on.
        match roll {
            0..25 => Status::Assigned,
            25..50 => Status::Accepted,
            50..70 => Status::Resolved,
            70..90 => Status::Closed,
            90..94 => Status::Withdrawn,
            94..97 => Status::Rejected,
            _ => Status::Merged,
        }
    } else {
        match roll {
            0..2 => Status::Assigned,
            2..4 => Status::Accepted,
            4..6 => Status::Resolved,
            6..82 => Status::Closed,
            82..87 => Status::Withdrawn,
            87..92 => Status::Rejected,
            92..96 => Status::Referred,
            _ => Status::Merged,
        }
    }
}

fn event(
    ticket_id: i64,
    kind: &str,
    actor: i64,
    status: (Option<Status>, Option<Status>),
    unit: (Option<i64>, Option<i64>),
    note: Option<&str>,
    at: NaiveDateTime,
) -> NewEventRow {
    NewEventRow {
        ticket_id,
        kind: kind.to_owned(),
        actor_id: Some(actor),
        from_status: status.0.map(|s| s.as_str().to_owned()),
        to_status: status.1.map(|s| s.as_str().to_owned()),
        from_unit_id: unit.0,
        to_unit_id: unit.1,
        note: note.map(str::to_owned),
        internal: false,
        created_at: at,
    }
}

/// `hours` after `start`, give or take an hour.
fn later(start: NaiveDateTime, hours: i64, rng: &mut StdRng) -> NaiveDateTime {
    start + Duration::minutes(hours * 60 + rng.random_range(0..60))
}

/// Writes batches of rows with the backend's own connection (inside the
/// caller's transaction).
macro_rules! write_batch {
    ($conn:expr, $tickets:expr, $visits:expr, $events:expr, $breaches:expr) => {{
        let conn = $conn;
        (|| -> QueryResult<()> {
            for chunk in $tickets.chunks(500) {
                diesel::insert_into(tickets::table).values(chunk).execute(conn)?;
            }
            for chunk in $visits.chunks(2000) {
                diesel::insert_into(ticket_visits::table).values(chunk).execute(conn)?;
            }
            for chunk in $events.chunks(2000) {
                diesel::insert_into(ticket_events::table).values(chunk).execute(conn)?;
            }
            for chunk in $breaches.chunks(2000) {
                diesel::insert_into(ticket_breaches::table)
                    .values(chunk)
                    .execute(conn)?;
            }
            Ok(())
        })()
    }};
}

/// Adds generated tickets until the database holds at least `target`
/// tickets; returns how many were added.
pub fn fill(db: &Db, target: u64, now: NaiveDateTime, seed: u64) -> Result<u64, ApiError> {
    let mut conn = db.conn()?;
    let conn: &mut AnyConnection = &mut conn;
    let existing: i64 = tickets::table.count().get_result(conn)?;
    let wanted = i64::try_from(target).unwrap_or(i64::MAX) - existing;
    if wanted <= 0 {
        return Ok(0);
    }
    let categories: Vec<CategoryRow> = categories::table
        .filter(categories::active.eq(true))
        .select(CategoryRow::as_select())
        .load(conn)?;
    let homes = homes(conn)?;
    if homes.is_empty() || categories.is_empty() {
        return Err(ApiError::conflict(
            "no_demo_community",
            "Load the demo community first.",
            "请先加载演示社区。",
        ));
    }
    let first_id: i64 = tickets::table
        .select(diesel::dsl::max(tickets::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0)
        + 1;
    let mut rng = StdRng::seed_from_u64(seed);
    let span = Duration::days(730);
    let start = now - span;
    let step_micros = span.num_microseconds().unwrap_or(1) / wanted.max(1);
    let started = Instant::now();
    let batch = 10_000;
    let mut done = 0i64;
    while done < wanted {
        let n = batch.min(wanted - done);
        let mut rows = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        let mut visits = Vec::new();
        let mut events = Vec::new();
        let mut breaches = Vec::new();
        for k in 0..n {
            let i = done + k;
            let id = first_id + i;
            let created = start + Duration::microseconds(step_micros * i + rng.random_range(0..step_micros.max(1)));
            let age_days = (now - created).num_days();
            let home = &homes[rng.random_range(0..homes.len())];
            let category = &categories[rng.random_range(0..categories.len())];
            let kind = category.kind;
            let entry_level = category.entry_level;
            let entry = route(kind, entry_level, &home.chain);
            let mut status = pick_status(&mut rng, age_days);
            if status == Status::Referred && entry != home.chain.committee {
                status = Status::Closed;
            }
            let parent = home
                .parents
                .iter()
                .find(|(unit, _)| *unit == entry)
                .and_then(|(_, p)| *p);
            let escalated = parent.is_some() && rng.random_range(0..100) < 15 && status != Status::Assigned;
            let current = if escalated { parent.unwrap_or(entry) } else { entry };
            let accept_due = created + Duration::hours(i64::from(category.accept_hours));
            let resolve_due = created + Duration::hours(i64::from(category.resolve_hours));
            let accepted = !matches!(
                status,
                Status::Assigned | Status::Withdrawn | Status::Rejected | Status::Merged
            );
            let resolved = matches!(status, Status::Resolved | Status::Closed);
            let accept_hours = i64::from(category.accept_hours.max(1));
            let resolve_hours = i64::from(category.resolve_hours).max(accept_hours);
            let accepted_at = accepted.then(|| later(created, rng.random_range(1..=accept_hours), &mut rng));
            let resolved_at =
                resolved.then(|| later(created, rng.random_range(accept_hours..=resolve_hours + 24), &mut rng));
            let closed_at = match status {
                Status::Closed => resolved_at.map(|t| t + Duration::hours(rng.random_range(2..72))),
                Status::Withdrawn | Status::Rejected | Status::Merged | Status::Referred => {
                    Some(later(created, rng.random_range(1..48), &mut rng))
                }
                _ => None,
            };
            // Signed for and resolved at `current`, under the deadlines it carries.
            for (deadline, due, at) in [
                (Deadline::SignFor, accept_due, accepted_at),
                (Deadline::Resolve, resolve_due, resolved_at),
            ] {
                if let Some(at) = at.filter(|at| late(due, *at)) {
                    let unit = UnitId(current);
                    breaches.push(NewBreachRow::new(id, Breach { unit, deadline }, at));
                }
            }
            let (title, detail) = title_for(&category.code, &mut rng);
            let place = PLACES[rng.random_range(0..PLACES.len())];
            let last_change = closed_at.or(resolved_at).or(accepted_at).unwrap_or(created);
            rows.push(GeneratedTicket {
                id,
                kind: kind.as_str().to_owned(),
                category_id: category.id,
                title: title.to_owned(),
                description: format!("{detail}，地点在{place}。{}", ASKS[rng.random_range(0..ASKS.len())]),
                location: Some(place.to_owned()),
                anonymous: kind == Kind::Complaint && rng.random_range(0..100) < 5,
                priority: ["normal", "normal", "normal", "urgent", "low"][rng.random_range(0..5)].to_owned(),
                reporter_id: home.user_id,
                community_id: home.chain.committee,
                current_unit_id: current,
                status: status.as_str().to_owned(),
                accept_due_at: accept_due,
                resolve_due_at: resolve_due,
                accepted_at,
                resolved_at,
                closed_at,
                resolution: resolved.then(|| "已上门核实并处理完毕。".to_owned()),
                resolved_unit_id: resolved.then_some(current),
                rating: (status == Status::Closed).then(|| [3, 4, 4, 5, 5, 5, 2, 5][rng.random_range(0..8)]),
                escalation_count: i32::from(escalated),
                arrived_from_unit_id: escalated.then_some(entry),
                merged_into_id: (status == Status::Merged && id > 1).then_some(id - 1),
                referred_to: (status == Status::Referred).then(|| "12345市长热线".to_owned()),
                version: 1
                    + i64::from(accepted)
                    + i64::from(escalated)
                    + i64::from(resolved)
                    + i64::from(closed_at.is_some()),
                created_at: created,
                updated_at: last_change,
            });
            visits.push(Visit {
                ticket_id: id,
                unit_id: entry,
            });
            events.push(event(
                id,
                "filed",
                home.user_id,
                (None, Some(Status::Assigned)),
                (None, Some(entry)),
                None,
                created,
            ));
            if escalated {
                visits.push(Visit {
                    ticket_id: id,
                    unit_id: current,
                });
                let at = accepted_at.unwrap_or(created) - Duration::minutes(30);
                events.push(event(
                    id,
                    "escalate",
                    home.staff_id,
                    (Some(Status::Assigned), Some(Status::Assigned)),
                    (Some(entry), Some(current)),
                    Some("需上级协调"),
                    at,
                ));
            }
            if let Some(at) = accepted_at {
                events.push(event(
                    id,
                    "accept",
                    home.staff_id,
                    (Some(Status::Assigned), Some(Status::Accepted)),
                    (Some(current), None),
                    None,
                    at,
                ));
            }
            if let Some(at) = resolved_at {
                events.push(event(
                    id,
                    "resolve",
                    home.staff_id,
                    (Some(Status::Accepted), Some(Status::Resolved)),
                    (Some(current), None),
                    Some("已上门核实并处理完毕。"),
                    at,
                ));
            }
            if let Some(at) = closed_at {
                let (kind, actor, from) = match status {
                    Status::Closed => ("close", home.user_id, Status::Resolved),
                    Status::Withdrawn => ("withdraw", home.user_id, Status::Assigned),
                    Status::Referred => ("refer", home.staff_id, Status::Accepted),
                    Status::Merged => ("merge", home.staff_id, Status::Assigned),
                    _ => ("reject", home.staff_id, Status::Assigned),
                };
                events.push(event(
                    id,
                    kind,
                    actor,
                    (Some(from), Some(status)),
                    (Some(current), None),
                    None,
                    at,
                ));
            }
        }
        db.write_blocking(move |conn| {
            match conn {
                AnyConnection::Sqlite(c) => write_batch!(c, rows, visits, events, breaches),
                AnyConnection::Postgres(c) => write_batch!(c, rows, visits, events, breaches),
            }?;
            let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
            Ok(search::reindex(conn, &ids)?)
        })?;
        done += n;
        if done % 100_000 == 0 || done == wanted {
            eprintln!("  {done} / {wanted} tickets ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    // Let the planners see the new data; PostgreSQL's id sequence must also
    // move past the ids written explicitly.
    db.write_blocking(|conn| {
        match conn {
            AnyConnection::Postgres(c) => c.batch_execute(
                "SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT MAX(id) FROM tickets)); ANALYZE;",
            )?,
            AnyConnection::Sqlite(c) => c.batch_execute("ANALYZE;")?,
        }
        Ok(())
    })?;
    Ok(u64::try_from(wanted).unwrap_or(0))
}

/// Every resident with a home, the staff member at their entry units, and
/// each serving unit's parent.
fn homes(conn: &mut AnyConnection) -> Result<Vec<Home>, ApiError> {
    let residents: Vec<UserRow> = users::table
        .filter(users::role.eq("resident"))
        .select(UserRow::as_select())
        .load(conn)?;
    let unit_rows: Vec<(i64, Option<i64>, String)> = units::table
        .select((units::id, units::parent_id, units::path))
        .load(conn)?;
    let staff: Option<i64> = users::table
        .filter(users::role.eq("staff"))
        .select(users::id)
        .first(conn)
        .optional()?;
    let mut homes = Vec::new();
    for resident in residents {
        let Some(building) = resident.building_id else { continue };
        let Some((_, _, path)) = unit_rows.iter().find(|(id, _, _)| *id == building) else {
            continue;
        };
        let ids: Vec<i64> = path.split('/').filter_map(|s| s.parse().ok()).collect();
        let [committee, branch, building] = ids[..] else {
            continue;
        };
        let chain = ServingChain {
            committee,
            branch,
            building,
            household: resident.household_id,
        };
        let parents = unit_rows.iter().map(|(id, parent, _)| (*id, *parent)).collect();
        homes.push(Home {
            user_id: resident.id,
            staff_id: staff.unwrap_or(resident.id),
            chain,
            parents,
        });
    }
    Ok(homes)
}
