//! Complaints and disputes: filing (`filing`), reading and lists
//! (`reading`), the CSV export (`export`), the timeline and comments
//! (`timeline`), and how a ticket is shown to a caller (`view`).

mod export;
mod filing;
mod reading;
mod timeline;
mod view;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::AnyConnection;
use crate::db::queries;
use crate::domain::grid::Level;
use crate::domain::ids::{UnitId, UserId};
use crate::domain::mediation::{MediationOutcome, PartyRole};
use crate::domain::ticket::{Action, EventKind, Kind, Priority, Status};
use crate::error::ApiError;

pub use filing::{CreateComplaint, CreateDispute, RespondentInput};
pub use timeline::event_response;
pub use view::{etag, load_ticket, show_ticket};

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(filing::create_complaint)
        .service(filing::create_dispute)
        .service(reading::list_tickets)
        // Before `/tickets/{id}`, which would take `export` for an id.
        .service(export::export_tickets)
        .service(reading::list_complaints)
        .service(reading::list_disputes)
        .service(reading::get_ticket)
        .service(timeline::list_events)
        .service(timeline::create_comment)
        .service(timeline::list_comments);
}

/// A category, as shown on a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryRef {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A grid unit, as shown on a ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnitRef {
    pub id: UnitId,
    pub name: String,
    pub level: Level,
}

/// A person on a ticket. Contact details (phone, room) are shown to staff
/// (phones masked below committee level) and to the person themselves;
/// other residents see `null`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonRef {
    pub id: UserId,
    pub display_name: String,
    pub phone: Option<String>,
    pub room: Option<String>,
}

/// A party to a dispute (申请人 applicant / 被申请人 respondent).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 41, "role": "respondent", "user_id": null, "name": "物业公司张经理", "phone": "139****5678"}))]
pub struct PartyResponse {
    pub id: i64,
    pub role: PartyRole,
    /// The resident account, when the party has one.
    pub user_id: Option<UserId>,
    pub name: String,
    /// Hidden (`null`) from the other side; masked below committee level.
    pub phone: Option<String>,
}

/// A complaint or dispute as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 1024, "kind": "complaint", "status": "assigned",
    "category": {"code": "noise", "name_zh": "噪音扰民", "name_en": "Noise"},
    "title": "楼上装修噪音", "description": "3号楼502每天早上7点开始装修，影响休息。",
    "location": "3号楼", "latitude": 26.0745, "longitude": 119.2965, "anonymous": false, "priority": "normal",
    "reporter": {"id": 12, "display_name": "王芳", "phone": "138****1234", "room": "3-402"},
    "filed_by_id": null,
    "current_unit": {"id": 30, "name": "党员中心户·王家", "level": "household"}, "current_unit_id": 30,
    "accept_due_at": "2026-11-29T01:00:00Z", "resolve_due_at": "2026-12-01T01:00:00Z", "overdue": false,
    "accepted_at": null, "resolved_at": null, "closed_at": null, "resolution": null, "rating": null, "feedback": null,
    "bounce_count": 0, "escalation_count": 0, "reopen_count": 0, "merged_into_id": null, "referred_to": null,
    "parties": [], "outcome": null, "actions": ["accept", "escalate", "dispatch", "reject", "merge"],
    "version": 1, "created_at": "2026-11-28T01:00:00Z", "updated_at": "2026-11-28T01:00:00Z"}))]
pub struct TicketResponse {
    pub id: i64,
    pub kind: Kind,
    pub status: Status,
    pub category: CategoryRef,
    pub title: String,
    pub description: String,
    pub location: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub anonymous: bool,
    pub priority: Priority,
    /// `null` when the reporter is anonymous and the caller works below branch level.
    pub reporter: Option<PersonRef>,
    /// Staff who filed it for the resident (walk-in or phone call), if any.
    pub filed_by_id: Option<UserId>,
    pub current_unit: UnitRef,
    pub current_unit_id: UnitId,
    /// Deadline to sign for at the current unit.
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub accept_due_at: DateTime<Utc>,
    /// Deadline to resolve at the current unit.
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub resolve_due_at: DateTime<Utc>,
    /// A deadline has passed: not signed for in time, or open past its resolve deadline.
    pub overdue: bool,
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub accepted_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub closed_at: Option<DateTime<Utc>>,
    /// The resolution note (办结说明).
    pub resolution: Option<String>,
    /// The reporter's rating, 1–5.
    pub rating: Option<i32>,
    pub feedback: Option<String>,
    /// Times the ticket was sent back (退回).
    pub bounce_count: i32,
    pub escalation_count: i32,
    pub reopen_count: i32,
    /// Set when merged into another ticket as a duplicate.
    pub merged_into_id: Option<i64>,
    /// Where a referred ticket was handed (e.g. 12345 hotline).
    pub referred_to: Option<String>,
    /// Disputes: applicants and respondents. Empty for complaints.
    pub parties: Vec<PartyResponse>,
    /// Disputes: `settled` once resolved under a mediation agreement,
    /// `not_settled` once referred outside the grid; otherwise `null`.
    pub outcome: Option<MediationOutcome>,
    /// The actions the caller may take now.
    pub actions: Vec<Action>,
    /// Increases with every change; send it back as `version` or `If-Match`.
    pub version: i64,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub updated_at: DateTime<Utc>,
}

/// A page of tickets, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": null}))]
pub struct TicketList {
    pub items: Vec<TicketResponse>,
    /// Pass as `cursor` to get the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One entry of a ticket's timeline.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "ticket_id": 1024, "kind": "escalate", "actor": {"id": 7, "display_name": "林网格"},
    "from_status": "accepted", "to_status": "assigned", "from_unit_id": 30, "to_unit_id": 9,
    "note": "需要楼栋协调", "internal": false, "created_at": "2026-11-28T02:00:00Z"}))]
pub struct EventResponse {
    pub id: i64,
    pub ticket_id: i64,
    /// `filed`, `comment`, an action (`accept`, `resolve`, `escalate`, `dispatch`, `return`,
    /// `reopen`, `close`, `withdraw`, `reject`, `refer`, `merge`), `merged_duplicate` (on the
    /// primary ticket), a deadline-worker event (督办): `auto_escalate`, `accept_overdue`,
    /// `resolve_overdue`, `auto_close`; an extension step: `extension_requested`,
    /// `extension_approved`, `extension_denied`; or a mediation record: `party_added`,
    /// `mediation`, `agreement`, `agreement_revised`, `follow_up`.
    pub kind: EventKind,
    /// Who did it; `null` for the deadline worker, or for an anonymous reporter the caller may not see.
    pub actor: Option<ActorRef>,
    pub from_status: Option<Status>,
    pub to_status: Option<Status>,
    pub from_unit_id: Option<UnitId>,
    pub to_unit_id: Option<UnitId>,
    /// Reason, note or comment text.
    pub note: Option<String>,
    /// Internal notes are seen by staff only.
    pub internal: bool,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActorRef {
    pub id: UserId,
    pub display_name: String,
}

/// A page of timeline entries, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{"id": 1, "ticket_id": 1024, "kind": "filed", "actor": {"id": 12, "display_name": "王芳"},
    "from_status": null, "to_status": "assigned", "from_unit_id": null, "to_unit_id": 30, "note": null,
    "internal": false, "created_at": "2026-11-28T01:00:00Z"}], "next_cursor": null}))]
pub struct EventList {
    pub items: Vec<EventResponse>,
    pub next_cursor: Option<String>,
}

/// Display names of the people behind a set of ids, for `ActorRef`s.
pub struct Actors(HashMap<i64, String>);

impl Actors {
    pub fn load(conn: &mut AnyConnection, ids: impl IntoIterator<Item = i64>) -> Result<Self, ApiError> {
        let mut ids: Vec<i64> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(Self(
            queries::users_by_ids(conn, &ids)?
                .into_iter()
                .map(|u| (u.id, u.display_name))
                .collect(),
        ))
    }

    pub fn get(&self, id: i64) -> Option<ActorRef> {
        self.0.get(&id).map(|name| ActorRef {
            id: UserId(id),
            display_name: name.clone(),
        })
    }
}
