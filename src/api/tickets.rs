//! Complaints and disputes: filing, reading, the timeline and comments.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, http::header, post, web};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::problems::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized, UnsupportedMediaType,
    ValidationFailed,
};
use super::units::level_of;
use super::{JsonBody, PageRequest, QueryParams, search_text};
use crate::auth::Auth;
use crate::clock::utc;
use crate::db::models::{EventRow, IdempotencyRow, NewEventRow, NewPartyRow, NewTicketRow, TicketRow, UserRow};
use crate::db::tickets::{self as db, EventFilter, TicketFilter, TicketScope};
use crate::db::{AnyConnection, queries};
use crate::domain::grid::{Level, community_of};
use crate::domain::ids::{UnitId, UserId};
use crate::domain::people::{Phone, Role, bounded_text, mask_phone, multiline_text};
use crate::domain::sla::is_overdue;
use crate::domain::ticket::{Action, Kind, Place, Priority, ServingChain, Status, allowed_actions, possible_at, route};
use crate::error::{ApiError, Invalid, Validator};
use crate::limits::FILINGS_PER_HOUR;
use crate::policy::Caller;
use crate::policy::tickets as policy;
use crate::service::visibility::TicketContext;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(create_complaint)
        .service(create_dispute)
        .service(list_tickets)
        .service(list_complaints)
        .service(list_disputes)
        .service(get_ticket)
        .service(list_events)
        .service(create_comment)
        .service(list_comments);
}

// ---------------------------------------------------------------- responses

/// A category, as shown on a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryRef {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A grid unit, as shown on a ticket.
#[derive(Debug, Serialize, ToSchema)]
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
    /// `applicant` or `respondent`.
    pub role: String,
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
    pub accept_due_at: DateTime<Utc>,
    /// Deadline to resolve at the current unit.
    pub resolve_due_at: DateTime<Utc>,
    /// A deadline has passed: not signed for in time, or open past its resolve deadline.
    pub overdue: bool,
    pub accepted_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
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
    pub outcome: Option<String>,
    /// The actions the caller may take now.
    pub actions: Vec<Action>,
    /// Increases with every change; send it back as `version` or `If-Match`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
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
    pub kind: String,
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

// ---------------------------------------------------------------- context

impl TicketContext {
    fn phone_for(&self, caller: &Caller, owner: Option<i64>, phone: Option<&str>) -> Option<String> {
        let phone = phone?;
        if owner == Some(caller.id.0) || caller.sees_full_phones() {
            Some(phone.to_owned())
        } else if policy::sees_contact_details(caller) {
            Some(mask_phone(phone))
        } else {
            None
        }
    }

    /// A dispute's parties as the caller may see them: phones hidden from
    /// residents but their own, masked below committee level.
    pub fn party_responses(&self, caller: &Caller, t: &TicketRow, hide_reporter: bool) -> Vec<PartyResponse> {
        self.parties
            .get(&t.id)
            .map(|ps| {
                ps.iter()
                    .filter(|p| !(t.anonymous && hide_reporter && p.user_id == Some(t.reporter_id)))
                    .map(|p| PartyResponse {
                        id: p.id,
                        role: p.role.clone(),
                        user_id: p.user_id.map(UserId),
                        name: p.name.clone(),
                        phone: self.phone_for(caller, p.user_id, p.phone.as_deref()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn response(&self, caller: &Caller, t: TicketRow, now: NaiveDateTime) -> Result<TicketResponse, ApiError> {
        let visited = self.visited_paths(&t);
        let party_ids = self.party_user_ids(&t);
        let facts = self.readable(caller, &t, &visited, &party_ids)?;
        let status = t.status;
        let current = self.current_unit(&t)?;
        let category = self
            .categories
            .get(&t.category_id)
            .ok_or_else(|| ApiError::internal("unknown category"))?;
        let reporter = if policy::sees_reporter(caller, &facts) {
            self.users.get(&t.reporter_id).map(|u| PersonRef {
                id: UserId(u.id),
                display_name: u.display_name.clone(),
                phone: self.phone_for(caller, Some(u.id), u.phone.as_deref()),
                room: (u.id == caller.id.0 || policy::sees_contact_details(caller))
                    .then(|| u.room.clone())
                    .flatten(),
            })
        } else {
            None
        };
        let parties = self.party_responses(caller, &t, reporter.is_none());
        let place = Place {
            level: facts.current_level,
            arrived_from_elsewhere: t.arrived_from_unit_id.is_some(),
        };
        let actions = allowed_actions(status)
            .into_iter()
            .filter(|a| possible_at(*a, place) && policy::may_act(caller, *a, &facts))
            .collect();
        Ok(TicketResponse {
            id: t.id,
            kind: t.kind,
            status,
            category: CategoryRef {
                code: category.code.clone(),
                name_zh: category.name_zh.clone(),
                name_en: category.name_en.clone(),
            },
            overdue: is_overdue(status, t.accept_due_at, t.resolve_due_at, now),
            priority: t.priority,
            reporter,
            filed_by_id: t.filed_by_id.map(UserId),
            current_unit: UnitRef {
                id: UnitId(current.id),
                name: current.name.clone(),
                level: level_of(current)?,
            },
            current_unit_id: UnitId(t.current_unit_id),
            accept_due_at: utc(t.accept_due_at),
            resolve_due_at: utc(t.resolve_due_at),
            accepted_at: t.accepted_at.map(utc),
            resolved_at: t.resolved_at.map(utc),
            closed_at: t.closed_at.map(utc),
            parties,
            actions,
            title: t.title,
            description: t.description,
            location: t.location,
            latitude: t.latitude,
            longitude: t.longitude,
            anonymous: t.anonymous,
            resolution: t.resolution,
            rating: t.rating,
            feedback: t.feedback,
            bounce_count: t.bounce_count,
            escalation_count: t.escalation_count,
            reopen_count: t.reopen_count,
            merged_into_id: t.merged_into_id,
            referred_to: t.referred_to,
            outcome: t.outcome,
            version: t.version,
            created_at: utc(t.created_at),
            updated_at: utc(t.updated_at),
        })
    }
}

/// Loads one ticket as the caller may see it (404 otherwise).
pub fn load_ticket(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    now: NaiveDateTime,
) -> Result<TicketResponse, ApiError> {
    let row = db::find_ticket(conn, id)?.ok_or(ApiError::NotFound)?;
    let context = TicketContext::load(conn, std::slice::from_ref(&row))?;
    context.response(caller, row, now)
}

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

// ---------------------------------------------------------------- filing

/// Where a resident's tickets start: their serving chain from the building's path.
fn serving_chain(conn: &mut AnyConnection, resident: &UserRow) -> Result<ServingChain, ApiError> {
    let building_id = resident
        .building_id
        .ok_or_else(|| ApiError::internal("resident without a building"))?;
    let building = queries::find_unit(conn, building_id)?.ok_or_else(|| ApiError::internal("home building missing"))?;
    let ids: Vec<i64> = building
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    match ids.as_slice() {
        [committee, branch, building] => Ok(ServingChain {
            committee: *committee,
            branch: *branch,
            building: *building,
            household: resident.household_id,
        }),
        _ => Err(ApiError::internal(format!(
            "building {} has a malformed path",
            building.id
        ))),
    }
}

/// A complaint (投诉/诉求).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"category": "noise", "title": "楼上装修噪音", "description": "3号楼502每天早上7点开始装修，影响休息。",
    "location": "3号楼", "latitude": 26.0745, "longitude": 119.2965, "anonymous": false, "priority": "normal"}))]
pub struct CreateComplaint {
    /// A category `code` of kind `complaint` (see `GET /api/v1/categories`).
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub category: String,
    /// 1–100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: String,
    /// 1–4000 characters.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub description: String,
    /// Free text, up to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub location: Option<String>,
    /// WGS84, −90 to 90; give both coordinates or neither.
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    /// WGS84, −180 to 180.
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    /// Hide the reporter from household and building levels. Default `false`.
    pub anonymous: Option<bool>,
    /// Default `normal`.
    pub priority: Option<Priority>,
    /// Staff only: file for this resident (walk-in or phone call).
    pub on_behalf_of: Option<UserId>,
}

/// The other side of a dispute: a resident account, or a named outside party
/// (documented as [`RespondentDoc`]: one of the two, never both).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RespondentInput {
    /// A resident account (then leave out `name` and `phone`).
    pub user_id: Option<UserId>,
    /// An outside party's name, 1–64 characters.
    pub name: Option<String>,
    /// An outside party's phone.
    pub phone: Option<String>,
}

/// The other side of a dispute: a resident account (`user_id`), or an
/// outside party by `name` and optional `phone`; never both.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = RespondentInput)]
#[allow(dead_code)] // the document's shape of `RespondentInput`
pub enum RespondentDoc {
    Resident(ResidentParty),
    Outside(OutsideParty),
}

/// A party with a resident account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the document's shape only
pub struct ResidentParty {
    /// A resident account of the dispute's community.
    pub user_id: UserId,
}

/// A party outside the grid's accounts, by name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the document's shape only
pub struct OutsideParty {
    /// 1–64 characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Mainland mobile or E.164.
    #[schema(pattern = r"^(1[3-9][0-9]{9}|\+861[3-9][0-9]{9}|\+[1-79][0-9]{7,14}|\+8[0-57-9][0-9]{6,13})$")]
    pub phone: Option<String>,
}

/// A neighbour dispute (矛盾纠纷). The reporter is the applicant.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"category": "neighbour_dispute", "title": "楼上漏水纠纷", "description": "楼上卫生间漏水到我家天花板，协商未果。",
    "location": "2号楼", "respondents": [{"user_id": 15}, {"name": "李先生", "phone": "13900001234"}]}))]
pub struct CreateDispute {
    /// A category `code` of kind `dispute`.
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub category: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: String,
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub description: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub location: Option<String>,
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    /// Default `normal`.
    pub priority: Option<Priority>,
    /// Staff only: file for this resident.
    pub on_behalf_of: Option<UserId>,
    /// 1–10 respondents (被申请人).
    #[schema(value_type = Vec<RespondentDoc>, min_items = 1, max_items = 10)]
    pub respondents: Vec<RespondentInput>,
}

/// Validated filing input, common to both kinds.
pub(crate) struct Filing {
    kind: Kind,
    category: String,
    title: String,
    description: String,
    location: Option<String>,
    coordinates: Option<(f64, f64)>,
    anonymous: bool,
    priority: Priority,
    on_behalf_of: Option<i64>,
    respondents: Vec<Respondent>,
}

pub(crate) enum Respondent {
    Account(i64),
    Outside { name: String, phone: Option<String> },
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn validate_filing(
    kind: Kind,
    category: &str,
    title: &str,
    description: &str,
    location: Option<&str>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    anonymous: Option<bool>,
    priority: Option<Priority>,
    on_behalf_of: Option<UserId>,
    respondents: Option<&[RespondentInput]>,
) -> Result<Filing, ApiError> {
    let mut v = Validator::default();
    let title = v.check("title", bounded_text(title, 100));
    let description = v.check("description", multiline_text(description, 4000));
    let location = location.and_then(|l| v.check("location", bounded_text(l, 200)));
    let coordinates = match (latitude, longitude) {
        (None, None) => None,
        (Some(lat), Some(lon)) => {
            if !(-90.0..=90.0).contains(&lat) {
                v.push(
                    "latitude",
                    Invalid::new("out_of_range", "Between -90 and 90.", "须在 -90 到 90 之间。"),
                );
            }
            if !(-180.0..=180.0).contains(&lon) {
                v.push(
                    "longitude",
                    Invalid::new("out_of_range", "Between -180 and 180.", "须在 -180 到 180 之间。"),
                );
            }
            Some((lat, lon))
        }
        (Some(_), None) => {
            v.push(
                "longitude",
                Invalid::new("required", "Give both coordinates or neither.", "经纬度须同时提供。"),
            );
            None
        }
        (None, Some(_)) => {
            v.push(
                "latitude",
                Invalid::new("required", "Give both coordinates or neither.", "经纬度须同时提供。"),
            );
            None
        }
    };
    let mut parsed = Vec::new();
    if let Some(respondents) = respondents {
        if respondents.is_empty() || respondents.len() > 10 {
            v.push(
                "respondents",
                Invalid::new("count", "Name 1 to 10 respondents.", "被申请人须为 1 到 10 位。"),
            );
        }
        for (i, r) in respondents.iter().enumerate() {
            if let Some(party) = parse_party(&mut v, &format!("respondents[{i}]"), r) {
                parsed.push(party);
            }
        }
    }
    v.finish()?;
    let (Some(title), Some(description)) = (title, description) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    Ok(Filing {
        kind,
        category: category.trim().to_owned(),
        title,
        description,
        location,
        coordinates,
        anonymous: anonymous.unwrap_or(false),
        priority: priority.unwrap_or_default(),
        on_behalf_of: on_behalf_of.map(|u| u.0),
        respondents: parsed,
    })
}

/// A party named in a request: a resident account, or an outside party with
/// a name and, optionally, a phone.
pub(crate) fn parse_party(v: &mut Validator, prefix: &str, r: &RespondentInput) -> Option<Respondent> {
    let field = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    match (r.user_id, &r.name, &r.phone) {
        (Some(user_id), None, None) => Some(Respondent::Account(user_id.0)),
        (None, Some(name), phone) => {
            let name = v.check(&field("name"), bounded_text(name, 64));
            let phone = match phone {
                Some(p) => v
                    .check(&field("phone"), Phone::parse(p))
                    .map(|p| Some(p.as_str().to_owned())),
                None => Some(None),
            };
            Some(Respondent::Outside {
                name: name?,
                phone: phone?,
            })
        }
        _ => {
            v.push(
                if prefix.is_empty() { "user_id" } else { prefix },
                Invalid::new(
                    "account_or_name",
                    "Give either `user_id`, or `name` (and optionally `phone`).",
                    "请提供 user_id，或提供 name（及可选的 phone）。",
                ),
            );
            None
        }
    }
}

/// A party's name and phone: from the resident account (never `reporter_id`
/// itself; else 422 naming `user_field`), or as given for an outside party.
pub(crate) fn resolve_party(
    conn: &mut AnyConnection,
    party: &Respondent,
    user_field: &str,
    reporter_id: i64,
) -> Result<(Option<i64>, String, Option<String>), ApiError> {
    match party {
        Respondent::Account(user_id) => {
            let account = queries::find_user(conn, *user_id)?
                .filter(|u| u.role == Role::Resident.as_str() && u.id != reporter_id)
                .ok_or_else(|| {
                    filing_error(
                        user_field,
                        "not_found",
                        "No other resident has this id.",
                        "没有此编号的其他居民。",
                    )
                })?;
            Ok((Some(account.id), account.display_name, account.phone))
        }
        Respondent::Outside { name, phone } => Ok((None, name.clone(), phone.clone())),
    }
}

fn filing_error(field: &str, code: &'static str, en: &'static str, zh: &'static str) -> ApiError {
    ApiError::field(field, Invalid::new(code, en, zh))
}

/// Files a ticket inside the caller's write transaction.
pub(crate) fn file(
    conn: &mut AnyConnection,
    caller: &Caller,
    f: Filing,
    now: NaiveDateTime,
) -> Result<TicketRow, ApiError> {
    let category = db::find_category_by_code(conn, &f.category)?
        .filter(|c| c.active)
        .ok_or_else(|| {
            filing_error(
                "category",
                "not_found",
                "No active category has this code.",
                "没有此编码的可用类别。",
            )
        })?;
    if category.kind != f.kind {
        return Err(filing_error(
            "category",
            "wrong_kind",
            "This category belongs to the other kind of ticket.",
            "该类别不属于此类工单。",
        ));
    }
    // Who the ticket is for: the caller, or the resident staff file for.
    let reporter = match (caller.role, f.on_behalf_of) {
        (Role::Resident, None) => queries::find_user(conn, caller.id.0)?.ok_or(ApiError::NotFound)?,
        (Role::Resident, Some(_)) => {
            return Err(ApiError::Refused {
                code: "staff_only",
                detail: crate::error::Text::new("Only staff file for someone else.", "只有工作人员可以代为提交。"),
            });
        }
        (_, None) => {
            return Err(filing_error(
                "on_behalf_of",
                "required",
                "Staff file for a resident: name them in `on_behalf_of`.",
                "工作人员代为提交时须在 on_behalf_of 中指定居民。",
            ));
        }
        (_, Some(resident_id)) => {
            let resident = queries::find_user(conn, resident_id)?.filter(|u| u.role == Role::Resident.as_str());
            let home = match resident.as_ref().and_then(|r| r.building_id) {
                Some(building) => queries::find_unit(conn, building)?,
                None => None,
            };
            match (resident, home) {
                (Some(resident), Some(home)) if caller.works_in(&home.path) => resident,
                _ => {
                    return Err(filing_error(
                        "on_behalf_of",
                        "not_found",
                        "No resident with this id lives in your area.",
                        "您的辖区内没有此编号的居民。",
                    ));
                }
            }
        }
    };
    if f.kind == Kind::Dispute && f.anonymous {
        return Err(filing_error(
            "anonymous",
            "dispute_not_anonymous",
            "A dispute cannot be anonymous: the other side must know who applies.",
            "矛盾纠纷不能匿名提交。",
        ));
    }
    let mut respondents = Vec::new();
    for (i, r) in f.respondents.iter().enumerate() {
        respondents.push(resolve_party(
            conn,
            r,
            &format!("respondents[{i}].user_id"),
            reporter.id,
        )?);
    }

    let chain = serving_chain(conn, &reporter)?;
    let entry_level = category.entry_level;
    let unit_id = route(f.kind, entry_level, &chain);
    let entry_unit = queries::find_unit(conn, unit_id)?.ok_or(ApiError::Internal)?;
    let (accept_due, resolve_due) = db::arrival_deadlines(conn, &category, f.priority, entry_unit.level, now)?;
    let status = Status::Assigned;
    let ticket = db::insert_ticket(
        conn,
        NewTicketRow {
            kind: f.kind,
            category_id: category.id,
            title: f.title,
            description: f.description,
            location: f.location,
            latitude: f.coordinates.map(|c| c.0),
            longitude: f.coordinates.map(|c| c.1),
            anonymous: f.anonymous,
            priority: f.priority,
            reporter_id: reporter.id,
            filed_by_id: (reporter.id != caller.id.0).then_some(caller.id.0),
            community_id: chain.committee,
            current_unit_id: unit_id,
            status,
            accept_due_at: accept_due,
            resolve_due_at: resolve_due,
            accepted_at: None,
            resolved_at: None,
            closed_at: None,
            resolution: None,
            resolved_unit_id: None,
            rating: None,
            version: 1,
            created_at: now,
            updated_at: now,
        },
    )?;
    db::record_visit(conn, ticket.id, unit_id)?;
    db::insert_event(
        conn,
        &NewEventRow {
            ticket_id: ticket.id,
            kind: "filed".into(),
            actor_id: Some(caller.id.0),
            from_status: None,
            to_status: Some(status.as_str().into()),
            from_unit_id: None,
            to_unit_id: Some(unit_id),
            note: (reporter.id != caller.id.0).then(|| format!("filed by staff for {}", reporter.display_name)),
            internal: false,
            created_at: now,
        },
    )?;
    if f.kind == Kind::Dispute {
        let mut parties = vec![NewPartyRow {
            ticket_id: ticket.id,
            role: "applicant".into(),
            user_id: Some(reporter.id),
            name: reporter.display_name.clone(),
            phone: reporter.phone.clone(),
            created_at: now,
        }];
        parties.extend(respondents.into_iter().map(|(user_id, name, phone)| NewPartyRow {
            ticket_id: ticket.id,
            role: "respondent".into(),
            user_id,
            name,
            phone,
            created_at: now,
        }));
        db::insert_parties(conn, &parties)?;
    }
    Ok(ticket)
}

const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
    match key {
        Some(key) => Ok(Some(key.to_owned())),
        None => Err(ApiError::field(
            IDEMPOTENCY_HEADER,
            Invalid::new(
                "invalid",
                "Use 1 to 200 visible ASCII characters.",
                "须为 1 到 200 个可见 ASCII 字符。",
            ),
        )),
    }
}

fn key_reused() -> ApiError {
    ApiError::field(
        IDEMPOTENCY_HEADER,
        Invalid::new(
            "reused",
            "This key was used for a different request in the last 24 hours.",
            "此幂等键在 24 小时内已用于另一个请求。",
        ),
    )
}

fn replay(row: IdempotencyRow) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(u16::try_from(row.status_code).unwrap_or(500))
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response
        .content_type("application/json")
        .insert_header(("Idempotent-Replayed", "true"));
    if let Some(location) = row.location {
        response.insert_header((header::LOCATION, location));
    }
    response.body(row.response_body)
}

enum Filed {
    New {
        location: String,
        body: String,
        version: i64,
    },
    Replayed(IdempotencyRow),
}

async fn file_and_respond(
    state: &AppState,
    req: &HttpRequest,
    auth: Auth,
    filing: Filing,
    request_hash: String,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(req)?;
    let caller = auth.caller;
    let now = state.clock.now_naive();
    let attempt = |filing: Filing| {
        let caller = caller.clone();
        let key = key.clone();
        let request_hash = request_hash.clone();
        state.db.write(move |conn| {
            if let Some(key) = &key
                && let Some(stored) = db::find_idempotent(conn, caller.id.0, key, now - Duration::hours(24))?
            {
                if stored.request_hash != request_hash {
                    return Err(key_reused());
                }
                return Ok(Filed::Replayed(stored));
            }
            if caller.role == Role::Resident {
                let (filed, first) = db::own_filings_since(conn, caller.id.0, now - Duration::hours(1))?;
                if filed >= FILINGS_PER_HOUR {
                    let wait = first.map_or(3600, |t| (t + Duration::hours(1) - now).num_seconds().max(1));
                    return Err(ApiError::TooManyRequests {
                        code: "too_many_filings",
                        detail: crate::error::Text::new(
                            "You have filed 10 tickets in the last hour; wait before filing another.",
                            "您在一小时内已提交 10 件诉求，请稍后再提交。",
                        ),
                        retry_after: u64::try_from(wait).unwrap_or(1),
                    });
                }
            }
            let ticket = file(conn, &caller, filing, now)?;
            let location = format!("/api/v1/tickets/{}", ticket.id);
            let version = ticket.version;
            let context = TicketContext::load(conn, std::slice::from_ref(&ticket))?;
            let body = serde_json::to_string(&context.response(&caller, ticket, now)?).map_err(ApiError::internal)?;
            if let Some(key) = key {
                db::store_idempotent(
                    conn,
                    &IdempotencyRow {
                        user_id: caller.id.0,
                        key,
                        request_hash,
                        status_code: 201,
                        response_body: body.clone(),
                        location: Some(location.clone()),
                        created_at: now,
                    },
                    now - Duration::hours(24),
                )?;
            }
            Ok(Filed::New {
                location,
                body,
                version,
            })
        })
    };
    let filed = match attempt(filing).await {
        // Two requests with one key at once: the loser's insert of the key
        // failed and its transaction rolled back; answer with the winner's.
        Err(ApiError::Conflict {
            code: "idempotency_race",
            ..
        }) => {
            let caller_id = caller.id.0;
            let key = key.clone().unwrap_or_default();
            let stored = state
                .db
                .run(move |conn| Ok(db::find_idempotent(conn, caller_id, &key, now - Duration::hours(24))?))
                .await?
                .ok_or(ApiError::Internal)?;
            Filed::Replayed(stored)
        }
        other => other?,
    };
    Ok(match filed {
        Filed::New {
            location,
            body,
            version,
        } => HttpResponse::Created()
            .content_type("application/json")
            .insert_header((header::LOCATION, location))
            .insert_header((header::ETAG, etag(version)))
            .body(body),
        Filed::Replayed(stored) if stored.request_hash == request_hash => replay(stored),
        Filed::Replayed(_) => return Err(key_reused()),
    })
}

fn request_hash<T: Serialize>(kind: Kind, input: &T) -> Result<String, ApiError> {
    let json = serde_json::to_vec(input).map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    hasher.update(kind.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(&json);
    Ok(hex::encode(hasher.finalize()))
}

/// File a complaint
///
/// Residents file for themselves; staff file for a resident who came in or
/// phoned (`on_behalf_of`, recorded on the ticket). The ticket lands at the
/// lowest unit that serves the reporter and is at or above the category's
/// entry level. Send an `Idempotency-Key` header to retry safely: the same
/// key from the same user within 24 hours answers the first response again
/// (with `Idempotent-Replayed: true`) and creates nothing new. A resident
/// files at most 10 tickets (complaints and disputes) an hour; the 11th
/// answers 429 with `Retry-After`.
#[utoipa::path(
    tag = "tickets",
    request_body = CreateComplaint,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–200 visible ASCII characters; makes retries safe for 24 hours", pattern = r"^[!-~]{1,200}$")),
    responses(
        (status = 201, description = "The complaint was filed (or an earlier response is replayed).", body = TicketResponse,
            headers(("Location" = String, description = "URL of the ticket"), ("ETag" = String, description = "The ticket's version"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyRequests),
    ),
    security(("bearer" = []))
)]
#[post("/complaints")]
async fn create_complaint(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: JsonBody<CreateComplaint>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let hash = request_hash(Kind::Complaint, &input)?;
    let filing = validate_filing(
        Kind::Complaint,
        &input.category,
        &input.title,
        &input.description,
        input.location.as_deref(),
        input.latitude,
        input.longitude,
        input.anonymous,
        input.priority,
        input.on_behalf_of,
        None,
    )?;
    file_and_respond(&state, &req, auth, filing, hash).await
}

/// File a dispute
///
/// Like a complaint, plus the respondents: resident accounts (`user_id`) or
/// named outside parties. The reporter is the applicant. Disputes enter at
/// building level or above and cannot be anonymous. Counts towards the
/// resident's 10 filings an hour.
#[utoipa::path(
    tag = "tickets",
    request_body = CreateDispute,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–200 visible ASCII characters; makes retries safe for 24 hours", pattern = r"^[!-~]{1,200}$")),
    responses(
        (status = 201, description = "The dispute was filed (or an earlier response is replayed).", body = TicketResponse,
            headers(("Location" = String, description = "URL of the ticket"), ("ETag" = String, description = "The ticket's version"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyRequests),
    ),
    security(("bearer" = []))
)]
#[post("/disputes")]
async fn create_dispute(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: JsonBody<CreateDispute>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let hash = request_hash(Kind::Dispute, &input)?;
    let filing = validate_filing(
        Kind::Dispute,
        &input.category,
        &input.title,
        &input.description,
        input.location.as_deref(),
        input.latitude,
        input.longitude,
        None,
        input.priority,
        input.on_behalf_of,
        Some(&input.respondents),
    )?;
    file_and_respond(&state, &req, auth, filing, hash).await
}

// ---------------------------------------------------------------- reading

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    pub status: Option<Status>,
    /// `GET /api/v1/tickets` only.
    pub kind: Option<Kind>,
    /// A category `code`.
    pub category: Option<String>,
    /// Tickets now at this unit or anywhere below it.
    pub unit_id: Option<i64>,
    pub reporter_id: Option<i64>,
    /// `true`: only tickets past a deadline; `false`: only tickets within them.
    pub overdue: Option<bool>,
    /// Filed at or after this time (RFC 3339).
    #[serde(default, deserialize_with = "super::rfc3339::optional")]
    pub created_from: Option<DateTime<Utc>>,
    /// Filed before this time (RFC 3339).
    #[serde(default, deserialize_with = "super::rfc3339::optional")]
    pub created_to: Option<DateTime<Utc>>,
    /// Changed at or after this time (RFC 3339): for mobile sync.
    #[serde(default, deserialize_with = "super::rfc3339::optional")]
    pub updated_since: Option<DateTime<Utc>>,
    /// Text in the title or description (Chinese included), up to 100 characters.
    pub q: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn scope_of(caller: &Caller) -> TicketScope {
    match caller.role {
        Role::Superadmin => TicketScope::All,
        Role::Resident => TicketScope::Resident {
            user_id: caller.id.0,
            party: true,
        },
        Role::Staff | Role::Admin => {
            let mut communities = Vec::new();
            let mut prefixes = Vec::new();
            for post in &caller.posts {
                match (post.level, community_of(&post.path)) {
                    (Level::Committee, Some(community)) => communities.push(community),
                    _ => prefixes.push(post.path.clone()),
                }
            }
            TicketScope::Staff { communities, prefixes }
        }
    }
}

async fn list(
    state: &AppState,
    caller: Caller,
    kind: Option<Kind>,
    query: TicketQuery,
) -> Result<web::Json<TicketList>, ApiError> {
    let mut v = Validator::default();
    let q = search_text("q", query.q.as_deref(), &mut v);
    let page = PageRequest::parse(Some(query.limit.unwrap_or(20)), query.cursor.as_deref());
    v.finish()?;
    let page = page?;
    let now = state.clock.now_naive();
    let mut scope = scope_of(&caller);
    let items = state
        .db
        .run(move |conn| {
            if let TicketScope::Resident { user_id, party } = &mut scope {
                *party = db::is_other_party(conn, *user_id)?;
            }
            let category_id = match &query.category {
                Some(code) => Some(
                    db::find_category_by_code(conn, code)?
                        .ok_or_else(|| {
                            filing_error(
                                "category",
                                "not_found",
                                "No category has this code.",
                                "没有此编码的类别。",
                            )
                        })?
                        .id,
                ),
                None => None,
            };
            let unit_path = match query.unit_id {
                Some(id) => Some(
                    queries::find_unit(conn, id)?
                        .ok_or_else(|| {
                            filing_error("unit_id", "not_found", "No unit has this id.", "没有此编号的单元。")
                        })?
                        .path,
                ),
                None => None,
            };
            let filter = TicketFilter {
                id: None,
                kind: kind.or(query.kind).map(|k| k.as_str().to_owned()),
                status: query.status.map(|s| s.as_str().to_owned()),
                category_id,
                unit_path,
                reporter_id: query.reporter_id,
                overdue: query.overdue.map(|o| (o, now)),
                created_from: query.created_from.map(|t| t.naive_utc()),
                created_to: query.created_to.map(|t| t.naive_utc()),
                updated_since: query.updated_since.map(|t| t.naive_utc()),
                q,
                before_id: page.after_id,
                limit: page.fetch(),
            };
            let rows = db::list_tickets(conn, &scope, &filter)?;
            let (rows, next_cursor) = page.finish(rows, |t| t.id);
            let context = TicketContext::load(conn, &rows)?;
            let items = rows
                .into_iter()
                .map(|t| context.response(&caller, t, now))
                .collect::<Result<_, _>>()?;
            Ok(TicketList { items, next_cursor })
        })
        .await?;
    Ok(web::Json(items))
}

/// List tickets
///
/// Complaints and disputes the caller may see, newest first: residents their
/// own and disputes they are party to; staff those now at, or once at, a unit
/// in their subtrees; admins their communities'.
#[utoipa::path(
    tag = "tickets",
    params(TicketQuery),
    responses(
        (status = 200, description = "A page of tickets.", body = TicketList),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/tickets")]
async fn list_tickets(
    state: web::Data<AppState>,
    auth: Auth,
    query: QueryParams<TicketQuery>,
) -> Result<web::Json<TicketList>, ApiError> {
    list(&state, auth.caller, None, query.0).await
}

/// List complaints
///
/// As `GET /api/v1/tickets`, complaints only.
#[utoipa::path(
    tag = "tickets",
    params(TicketQuery),
    responses(
        (status = 200, description = "A page of complaints.", body = TicketList),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/complaints")]
async fn list_complaints(
    state: web::Data<AppState>,
    auth: Auth,
    query: QueryParams<TicketQuery>,
) -> Result<web::Json<TicketList>, ApiError> {
    list(&state, auth.caller, Some(Kind::Complaint), query.0).await
}

/// List disputes
///
/// As `GET /api/v1/tickets`, disputes only.
#[utoipa::path(
    tag = "tickets",
    params(TicketQuery),
    responses(
        (status = 200, description = "A page of disputes.", body = TicketList),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/disputes")]
async fn list_disputes(
    state: web::Data<AppState>,
    auth: Auth,
    query: QueryParams<TicketQuery>,
) -> Result<web::Json<TicketList>, ApiError> {
    list(&state, auth.caller, Some(Kind::Dispute), query.0).await
}

/// Get a ticket
///
/// With an `ETag` naming its version: send it back as `If-Match` on actions.
#[utoipa::path(
    tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The ticket.", body = TicketResponse,
            headers(("ETag" = String, description = "The ticket's version, e.g. `\"3\"`"))),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/tickets/{id}")]
async fn get_ticket(state: web::Data<AppState>, auth: Auth, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let ticket = state.db.run(move |conn| load_ticket(conn, &caller, id, now)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(ticket.version)))
        .json(ticket))
}

// ---------------------------------------------------------------- timeline

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

async fn timeline(
    state: &AppState,
    caller: Caller,
    ticket_id: i64,
    only_comments: bool,
    query: EventQuery,
) -> Result<EventList, ApiError> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    state
        .db
        .run(move |conn| {
            let row = db::find_ticket(conn, ticket_id)?.ok_or(ApiError::NotFound)?;
            let context = TicketContext::load(conn, std::slice::from_ref(&row))?;
            let visited = context.visited_paths(&row);
            let parties = context.party_user_ids(&row);
            let facts = context.readable(&caller, &row, &visited, &parties)?;
            let hide_reporter = !policy::sees_reporter(&caller, &facts);
            let filter = EventFilter {
                include_internal: policy::sees_internal_notes(&caller),
                only_comments,
                after_id: page.after_id,
                limit: page.fetch(),
            };
            let events = db::events_of(conn, ticket_id, &filter)?;
            let (events, next_cursor) = page.finish(events, |e| e.id);
            let mut actor_ids: Vec<i64> = events.iter().filter_map(|e| e.actor_id).collect();
            actor_ids.sort_unstable();
            actor_ids.dedup();
            let actors: HashMap<i64, UserRow> = queries::users_by_ids(conn, &actor_ids)?
                .into_iter()
                .map(|u| (u.id, u))
                .collect();
            let items = events
                .into_iter()
                .map(|e| event_response(e, &actors, hide_reporter.then_some(row.reporter_id)))
                .collect();
            Ok(EventList { items, next_cursor })
        })
        .await
}

pub fn event_response(e: EventRow, actors: &HashMap<i64, UserRow>, hidden_actor: Option<i64>) -> EventResponse {
    EventResponse {
        id: e.id,
        ticket_id: e.ticket_id,
        actor: e
            .actor_id
            .filter(|id| Some(*id) != hidden_actor)
            .and_then(|id| actors.get(&id))
            .map(|u| ActorRef {
                id: UserId(u.id),
                display_name: u.display_name.clone(),
            }),
        kind: e.kind,
        from_status: e.from_status.as_deref().and_then(Status::parse),
        to_status: e.to_status.as_deref().and_then(Status::parse),
        from_unit_id: e.from_unit_id.map(UnitId),
        to_unit_id: e.to_unit_id.map(UnitId),
        note: e.note,
        internal: e.internal,
        created_at: utc(e.created_at),
    }
}

/// A ticket's timeline
///
/// Every transition, comment and system action, oldest first; append-only.
/// Internal notes are left out for residents.
#[utoipa::path(
    tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id"), EventQuery),
    responses(
        (status = 200, description = "A page of timeline entries.", body = EventList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/tickets/{id}/events")]
async fn list_events(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    query: QueryParams<EventQuery>,
) -> Result<web::Json<EventList>, ApiError> {
    Ok(web::Json(
        timeline(&state, auth.caller, id.into_inner(), false, query.0).await?,
    ))
}

/// A ticket's comments
///
/// Public comments, and internal notes for staff; oldest first.
#[utoipa::path(
    tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id"), EventQuery),
    responses(
        (status = 200, description = "A page of comments.", body = EventList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/tickets/{id}/comments")]
async fn list_comments(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    query: QueryParams<EventQuery>,
) -> Result<web::Json<EventList>, ApiError> {
    Ok(web::Json(
        timeline(&state, auth.caller, id.into_inner(), true, query.0).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "已联系502住户，约定周末不施工。", "internal": false}))]
pub struct CreateComment {
    /// 1–2000 characters.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub body: String,
    /// Staff only: an internal note residents never see. Default `false`.
    pub internal: Option<bool>,
}

/// Comment on a ticket
///
/// Anyone who may read the ticket may comment publicly; staff may also write
/// internal notes.
#[utoipa::path(
    tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = CreateComment,
    responses(
        (status = 201, description = "The comment, as a timeline entry.", body = EventResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/tickets/{id}/comments")]
async fn create_comment(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<CreateComment>,
) -> Result<HttpResponse, ApiError> {
    let ticket_id = id.into_inner();
    let input = body.0;
    let mut v = Validator::default();
    let text = v.check("body", multiline_text(&input.body, 2000));
    let internal = input.internal.unwrap_or(false);
    if internal && !policy::sees_internal_notes(&auth.caller) {
        return Err(ApiError::Refused {
            code: "staff_only",
            detail: crate::error::Text::new("Only staff write internal notes.", "只有工作人员可以写内部备注。"),
        });
    }
    v.finish()?;
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let event = state
        .db
        .write(move |conn| {
            let row = db::lock_ticket(conn, ticket_id)?.ok_or(ApiError::NotFound)?;
            TicketContext::load(conn, std::slice::from_ref(&row))?.ensure_readable(&caller, &row)?;
            let event = db::insert_event(
                conn,
                &NewEventRow {
                    ticket_id,
                    kind: "comment".into(),
                    actor_id: Some(caller.id.0),
                    from_status: None,
                    to_status: None,
                    from_unit_id: None,
                    to_unit_id: None,
                    note: text,
                    internal,
                    created_at: now,
                },
            )?;
            let actors = queries::users_by_ids(conn, &[caller.id.0])?
                .into_iter()
                .map(|u| (u.id, u))
                .collect();
            Ok(event_response(event, &actors, None))
        })
        .await?;
    Ok(HttpResponse::Created().json(event))
}
