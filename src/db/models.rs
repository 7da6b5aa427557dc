//! Row structs. These never leave the server as JSON: `api` maps them into
//! response types.
//!
//! The rows inserted on every filing and change (tickets, events, parties,
//! audit entries) write a `None` as NULL (`treat_none_as_default_value =
//! false`), not as `DEFAULT`: their INSERT then has one shape, which diesel
//! prepares once per connection instead of on every insert. No nullable
//! column has a default, so the rows stored are the same.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::extensions::ExtensionStatus;
use crate::domain::grid::Level;
use crate::domain::mediation::PartyRole;
use crate::domain::people::Role;
use crate::domain::ticket::{EventKind, Kind, Priority, Status};

use super::schema::{
    audit_log, categories, dispute_agreements, dispute_parties, extension_requests, follow_ups, idempotency_keys,
    mediation_sessions, posts, refresh_tokens, sessions, settings, sla_rules, ticket_events, tickets, units, users,
};
use super::stamp::{MaybeStamp, Stamp};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = units)]
pub struct UnitRow {
    pub id: i64,
    pub parent_id: Option<i64>,
    #[diesel(deserialize_as = String)]
    pub level: Level,
    pub name: String,
    pub code: Option<String>,
    pub path: String,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

/// A unit as a ticket's context needs it: where it sits in the grid and
/// what it is called (a page of tickets reads dozens; code and times are
/// left unread).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = units)]
pub struct UnitPlaceRow {
    pub id: i64,
    pub parent_id: Option<i64>,
    #[diesel(deserialize_as = String)]
    pub level: Level,
    pub name: String,
    pub path: String,
}

impl crate::db::row_cache::Keyed for UnitPlaceRow {
    fn key(&self) -> i64 {
        self.id
    }
}

impl From<UnitRow> for UnitPlaceRow {
    fn from(unit: UnitRow) -> Self {
        Self {
            id: unit.id,
            parent_id: unit.parent_id,
            level: unit.level,
            name: unit.name,
            path: unit.path,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = units)]
pub struct NewUnitRow<'a> {
    pub parent_id: Option<i64>,
    pub level: &'a str,
    pub name: &'a str,
    pub code: Option<&'a str>,
    pub path: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub password_hash: String,
    #[diesel(deserialize_as = String)]
    pub role: Role,
    pub active: bool,
    pub token_version: i64,
    pub building_id: Option<i64>,
    pub room: Option<String>,
    pub household_id: Option<i64>,
    pub created_by: Option<i64>,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
    /// The community a staff or admin account last held a post in, kept
    /// once it holds none.
    pub last_community_id: Option<i64>,
}

/// A ticket's reporter as tickets show them (not their credentials).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct ReporterRow {
    pub id: i64,
    pub display_name: String,
    pub phone: Option<String>,
    pub room: Option<String>,
}

impl crate::db::row_cache::Keyed for ReporterRow {
    fn key(&self) -> i64 {
        self.id
    }
}

impl From<UserRow> for ReporterRow {
    fn from(user: UserRow) -> Self {
        Self {
            id: user.id,
            display_name: user.display_name,
            phone: user.phone,
            room: user.room,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub phone: Option<&'a str>,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub active: bool,
    pub token_version: i64,
    pub building_id: Option<i64>,
    pub room: Option<&'a str>,
    pub household_id: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl<'a> NewUserRow<'a> {
    /// An active account without phone or home; set those with struct update syntax.
    pub fn new(
        username: &'a str,
        display_name: &'a str,
        password_hash: &'a str,
        role: &'a str,
        now: NaiveDateTime,
    ) -> Self {
        Self {
            username,
            display_name,
            phone: None,
            password_hash,
            role,
            active: true,
            token_version: 0,
            building_id: None,
            room: None,
            household_id: None,
            created_by: None,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = posts)]
pub struct PostRow {
    pub id: i64,
    pub user_id: i64,
    pub unit_id: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = posts)]
pub struct NewPostRow {
    pub user_id: i64,
    pub unit_id: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub user_id: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = MaybeStamp)]
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: i64,
    pub session_id: String,
    pub token_hash: String,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub expires_at: NaiveDateTime,
    #[diesel(deserialize_as = MaybeStamp)]
    pub used_at: Option<NaiveDateTime>,
    /// Set when the token was spent: its successor, sealed with the spent
    /// token (`secrets::seal_successor`), for the grace window.
    pub sealed_successor: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshTokenRow<'a> {
    pub session_id: &'a str,
    pub token_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = settings)]
pub struct NewSettingRow<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = categories)]
pub struct CategoryRow {
    pub id: i64,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    #[diesel(deserialize_as = String)]
    pub kind: Kind,
    #[diesel(deserialize_as = String)]
    pub entry_level: Level,
    pub accept_hours: i32,
    pub resolve_hours: i32,
    pub active: bool,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = categories)]
pub struct NewCategoryRow<'a> {
    pub code: &'a str,
    pub name_zh: &'a str,
    pub name_en: &'a str,
    pub kind: &'a str,
    pub entry_level: &'a str,
    pub accept_hours: i32,
    pub resolve_hours: i32,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
pub struct TicketRow {
    pub id: i64,
    #[diesel(deserialize_as = String)]
    pub kind: Kind,
    pub category_id: i64,
    pub title: String,
    pub description: String,
    pub location: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub anonymous: bool,
    #[diesel(deserialize_as = String)]
    pub priority: Priority,
    pub reporter_id: i64,
    pub filed_by_id: Option<i64>,
    pub community_id: i64,
    pub current_unit_id: i64,
    #[diesel(deserialize_as = String)]
    pub status: Status,
    #[diesel(deserialize_as = Stamp)]
    pub accept_due_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub resolve_due_at: NaiveDateTime,
    #[diesel(deserialize_as = MaybeStamp)]
    pub accepted_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = MaybeStamp)]
    pub resolved_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = MaybeStamp)]
    pub closed_at: Option<NaiveDateTime>,
    pub resolution: Option<String>,
    pub resolved_unit_id: Option<i64>,
    pub rating: Option<i32>,
    pub feedback: Option<String>,
    pub bounce_count: i32,
    pub escalation_count: i32,
    pub reopen_count: i32,
    pub arrived_from_unit_id: Option<i64>,
    pub merged_into_id: Option<i64>,
    pub referred_to: Option<String>,
    pub version: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
    /// When the worker found the sign-for deadline missed with nowhere to escalate.
    #[diesel(deserialize_as = MaybeStamp)]
    pub accept_breached_at: Option<NaiveDateTime>,
    /// When the worker found the resolve deadline missed.
    #[diesel(deserialize_as = MaybeStamp)]
    pub resolve_breached_at: Option<NaiveDateTime>,
    /// Disputes: `settled` or `not_settled` once resolved or referred.
    pub outcome: Option<String>,
    /// When it arrived at its unit: its deadlines' time runs from here.
    #[diesel(deserialize_as = MaybeStamp)]
    pub arrived_at: Option<NaiveDateTime>,
    /// The deadline to sign for the worker last warned of.
    #[diesel(deserialize_as = MaybeStamp)]
    pub accept_warned_due: Option<NaiveDateTime>,
    /// The deadline to resolve the worker last warned of.
    #[diesel(deserialize_as = MaybeStamp)]
    pub resolve_warned_due: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tickets, treat_none_as_default_value = false)]
pub struct NewTicketRow {
    #[diesel(serialize_as = String)]
    pub kind: Kind,
    pub category_id: i64,
    pub title: String,
    pub description: String,
    pub location: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub anonymous: bool,
    #[diesel(serialize_as = String)]
    pub priority: Priority,
    pub reporter_id: i64,
    pub filed_by_id: Option<i64>,
    pub community_id: i64,
    pub current_unit_id: i64,
    #[diesel(serialize_as = String)]
    pub status: Status,
    pub accept_due_at: NaiveDateTime,
    pub resolve_due_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub resolution: Option<String>,
    pub resolved_unit_id: Option<i64>,
    pub rating: Option<i32>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub arrived_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ticket_events)]
pub struct EventRow {
    pub id: i64,
    pub ticket_id: i64,
    #[diesel(deserialize_as = String)]
    pub kind: EventKind,
    pub actor_id: Option<i64>,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub from_unit_id: Option<i64>,
    pub to_unit_id: Option<i64>,
    pub note: Option<String>,
    pub internal: bool,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

impl EventRow {
    /// The row `new` becomes when inserted with `id`, for a writer that
    /// knows the id before the insert (`tickets::insert_filed`).
    pub fn inserted(id: i64, new: &NewEventRow) -> diesel::QueryResult<Self> {
        let kind = EventKind::parse(&new.kind).ok_or_else(|| {
            diesel::result::Error::QueryBuilderError(format!("unknown event kind {}", new.kind).into())
        })?;
        Ok(Self {
            id,
            ticket_id: new.ticket_id,
            kind,
            actor_id: new.actor_id,
            from_status: new.from_status.clone(),
            to_status: new.to_status.clone(),
            from_unit_id: new.from_unit_id,
            to_unit_id: new.to_unit_id,
            note: new.note.clone(),
            internal: new.internal,
            created_at: new.created_at,
        })
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ticket_events, treat_none_as_default_value = false)]
pub struct NewEventRow {
    pub ticket_id: i64,
    pub kind: String,
    pub actor_id: Option<i64>,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub from_unit_id: Option<i64>,
    pub to_unit_id: Option<i64>,
    pub note: Option<String>,
    pub internal: bool,
    pub created_at: NaiveDateTime,
}

impl NewEventRow {
    /// A public timeline entry that changes neither status nor unit.
    pub fn note(ticket_id: i64, kind: &str, actor_id: i64, note: String, now: NaiveDateTime) -> Self {
        Self {
            ticket_id,
            kind: kind.to_owned(),
            actor_id: Some(actor_id),
            from_status: None,
            to_status: None,
            from_unit_id: None,
            to_unit_id: None,
            note: Some(note),
            internal: false,
            created_at: now,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = dispute_parties)]
pub struct PartyRow {
    pub id: i64,
    pub ticket_id: i64,
    #[diesel(deserialize_as = String)]
    pub role: PartyRole,
    pub user_id: Option<i64>,
    pub name: String,
    pub phone: Option<String>,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = dispute_parties, treat_none_as_default_value = false)]
pub struct NewPartyRow {
    pub ticket_id: i64,
    pub role: String,
    pub user_id: Option<i64>,
    pub name: String,
    pub phone: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub user_id: i64,
    pub key: String,
    pub request_hash: String,
    pub status_code: i32,
    pub response_body: String,
    pub location: Option<String>,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sla_rules)]
pub struct SlaRuleRow {
    pub id: i64,
    pub level: Option<String>,
    pub category_id: Option<i64>,
    pub priority: Option<String>,
    pub accept_hours: i32,
    pub resolve_hours: i32,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = sla_rules)]
pub struct NewSlaRuleRow {
    pub level: Option<String>,
    pub category_id: Option<i64>,
    pub priority: Option<String>,
    pub accept_hours: i32,
    pub resolve_hours: i32,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = extension_requests)]
pub struct ExtensionRow {
    pub id: i64,
    pub ticket_id: i64,
    pub unit_id: i64,
    pub requested_by: i64,
    pub hours: i32,
    pub reason: String,
    #[diesel(deserialize_as = String)]
    pub status: ExtensionStatus,
    pub decided_by: Option<i64>,
    #[diesel(deserialize_as = MaybeStamp)]
    pub decided_at: Option<NaiveDateTime>,
    pub decision_note: Option<String>,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = extension_requests)]
pub struct NewExtensionRow {
    pub ticket_id: i64,
    pub unit_id: i64,
    pub requested_by: i64,
    pub hours: i32,
    pub reason: String,
    pub status: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mediation_sessions)]
pub struct MediationRow {
    pub id: i64,
    pub ticket_id: i64,
    #[diesel(deserialize_as = Stamp)]
    pub held_at: NaiveDateTime,
    pub mediator_id: i64,
    pub summary: String,
    pub outcome: Option<String>,
    pub recorded_by: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mediation_sessions)]
pub struct NewMediationRow {
    pub ticket_id: i64,
    pub held_at: NaiveDateTime,
    pub mediator_id: i64,
    pub summary: String,
    pub outcome: Option<String>,
    pub recorded_by: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = dispute_agreements)]
pub struct AgreementRow {
    pub ticket_id: i64,
    pub terms: String,
    #[diesel(deserialize_as = Stamp)]
    pub performance_deadline: NaiveDateTime,
    pub recorded_by: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = follow_ups)]
pub struct FollowUpRow {
    pub id: i64,
    pub ticket_id: i64,
    #[diesel(deserialize_as = Stamp)]
    pub due_at: NaiveDateTime,
    #[diesel(deserialize_as = MaybeStamp)]
    pub recorded_at: Option<NaiveDateTime>,
    pub recorded_by: Option<i64>,
    pub result: Option<String>,
    pub note: Option<String>,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    /// The due date the worker last told the unit of.
    #[diesel(deserialize_as = MaybeStamp)]
    pub reminded_due: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    pub request_id: String,
    pub actor_id: i64,
    pub actor_role: String,
    pub community_id: Option<i64>,
    pub kind: String,
    pub method: String,
    pub route: String,
    pub path: String,
    pub status: i32,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
pub struct NewAuditRow {
    pub created_at: NaiveDateTime,
    pub request_id: String,
    pub actor_id: i64,
    pub actor_role: String,
    pub community_id: Option<i64>,
    pub kind: String,
    pub method: String,
    pub route: String,
    pub path: String,
    pub status: i32,
}
