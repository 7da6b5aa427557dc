//! People's mediation (人民调解) of disputes: the parties, the sessions held,
//! the agreement (调解协议), and the follow-up visit (履行回访) that falls due
//! 30 days after it. Every record is also on the dispute's timeline.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::tickets::{ActorRef, Actors};
use crate::clock::utc;
use crate::db::AnyConnection;
use crate::db::mediation as db;
use crate::db::models::{FollowUpRow, TicketRow};
use crate::domain::ids::UnitId;
use crate::domain::mediation::{FollowUpResult, follow_up_overdue};
use crate::error::ApiError;

mod agreement;
mod follow_ups;
mod parties;
mod sessions;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(parties::list_parties)
        .service(parties::add_party)
        .service(sessions::list_mediation_sessions)
        .service(sessions::add_mediation_session)
        .service(agreement::get_agreement)
        .service(agreement::put_agreement)
        .service(follow_ups::list_follow_ups)
        .service(follow_ups::record_follow_up);
}

/// A follow-up visit (履行回访) of an agreement.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 7, "ticket_id": 1024, "title": "楼上漏水纠纷", "current_unit_id": 9,
    "performance_deadline": "2026-12-31T00:00:00Z", "due_at": "2026-12-20T08:00:00Z", "overdue": false,
    "recorded_at": null, "recorded_by": null, "result": null, "note": null, "created_at": "2026-11-20T08:00:00Z"}))]
pub struct FollowUpResponse {
    pub id: i64,
    pub ticket_id: i64,
    /// The dispute's title.
    pub title: String,
    /// The unit that holds the dispute (the one that resolved it).
    pub current_unit_id: UnitId,
    /// The agreement's deadline for performing it.
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub performance_deadline: Option<DateTime<Utc>>,
    /// 30 days after the agreement.
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub due_at: DateTime<Utc>,
    /// Due and not yet recorded.
    pub overdue: bool,
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub recorded_at: Option<DateTime<Utc>>,
    pub recorded_by: Option<ActorRef>,
    pub result: Option<FollowUpResult>,
    pub note: Option<String>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
}

/// Follow-up responses, each with the dispute it belongs to.
fn follow_up_responses(
    conn: &mut AnyConnection,
    rows: Vec<(FollowUpRow, TicketRow)>,
    now: NaiveDateTime,
) -> Result<Vec<FollowUpResponse>, ApiError> {
    let people = Actors::load(conn, rows.iter().filter_map(|(f, _)| f.recorded_by))?;
    let ids: Vec<i64> = rows.iter().map(|(_, t)| t.id).collect();
    let deadlines: std::collections::HashMap<i64, NaiveDateTime> = db::agreements_of(conn, &ids)?
        .into_iter()
        .map(|a| (a.ticket_id, a.performance_deadline))
        .collect();
    Ok(rows
        .into_iter()
        .map(|(f, t)| FollowUpResponse {
            id: f.id,
            ticket_id: t.id,
            title: t.title,
            current_unit_id: UnitId(t.current_unit_id),
            performance_deadline: deadlines.get(&t.id).copied().map(utc),
            due_at: utc(f.due_at),
            overdue: follow_up_overdue(f.due_at, f.recorded_at, now),
            recorded_at: f.recorded_at.map(utc),
            recorded_by: f.recorded_by.and_then(|id| people.get(id)),
            result: f.result.as_deref().and_then(FollowUpResult::parse),
            note: f.note,
            created_at: utc(f.created_at),
        })
        .collect())
}
