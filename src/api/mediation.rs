//! People's mediation (人民调解) of disputes: the parties, the sessions held,
//! the agreement (调解协议), and the follow-up visit (履行回访) that falls due
//! 30 days after it. Every record is also on the dispute's timeline.

use actix_web::{HttpResponse, get, http::header, post, put, web};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use super::tickets::{ActorRef, Actors, PartyResponse};
use super::{JsonBody, PageRequest, QueryParams};
use crate::auth::Auth;
use crate::auth::extractor::caller_from;
use crate::clock::utc;
use crate::db::mediation::{self as db, FollowUpFilter, FollowUpState};
use crate::db::models::{
    AgreementRow, FollowUpRow, MediationRow, NewEventRow, NewMediationRow, NewPartyRow, TicketRow,
};
use crate::db::{AnyConnection, queries, tickets};
use crate::domain::filing::{PartyInput, parse_party};
use crate::domain::grid::community_of;
use crate::domain::ids::{UnitId, UserId};
use crate::domain::people::{Role, multiline_text};
use crate::domain::ticket::{Kind, Status};
use crate::error::{ApiError, Invalid, Validator};
use crate::policy::Caller;
use crate::policy::tickets as policy;
use crate::service::filing::resolve_party;
use crate::service::visibility::TicketContext;
use crate::state::AppState;

/// A follow-up falls due this long after the agreement (履行回访).
pub const FOLLOW_UP_AFTER_DAYS: i64 = 30;
/// Parties a dispute may have, applicants and respondents together.
const MAX_PARTIES: usize = 30;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_parties)
        .service(add_party)
        .service(list_mediations)
        .service(add_mediation)
        .service(get_agreement)
        .service(put_agreement)
        .service(list_follow_ups)
        .service(record_follow_up);
}

// ---------------------------------------------------------------- types

/// Which side a party is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyRole {
    /// 申请人
    Applicant,
    /// 被申请人
    Respondent,
}

impl PartyRole {
    fn as_str(self) -> &'static str {
        match self {
            Self::Applicant => "applicant",
            Self::Respondent => "respondent",
        }
    }
}

/// How a session, or a dispute, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediationOutcome {
    /// 调解成功
    Settled,
    /// 调解不成
    NotSettled,
}

impl MediationOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Settled => "settled",
            Self::NotSettled => "not_settled",
        }
    }
}

/// Whether the parties kept the agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpResult {
    /// 已履行
    Fulfilled,
    /// 部分履行
    PartlyFulfilled,
    /// 未履行
    NotFulfilled,
}

impl FollowUpResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Fulfilled => "fulfilled",
            Self::PartlyFulfilled => "partly_fulfilled",
            Self::NotFulfilled => "not_fulfilled",
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [
    {"id": 40, "role": "applicant", "user_id": 12, "name": "王芳", "phone": "13800001234"},
    {"id": 41, "role": "respondent", "user_id": null, "name": "李先生", "phone": "139****1234"}]}))]
pub struct PartyList {
    pub items: Vec<PartyResponse>,
}

/// Another party: a resident account (`user_id`), or an outside party by
/// `name` and optional `phone` (documented as [`AddPartyDoc`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddParty {
    pub role: PartyRole,
    /// A resident account (then leave out `name` and `phone`).
    pub user_id: Option<UserId>,
    /// An outside party's name, 1–64 characters.
    pub name: Option<String>,
    /// An outside party's phone (mainland mobile or E.164).
    pub phone: Option<String>,
}

/// Another party: a resident account (`user_id`), or an outside party by
/// `name` and optional `phone`; never both.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = AddParty, example = json!({"role": "respondent", "name": "物业公司张经理", "phone": "13900005678"}))]
#[allow(dead_code)] // the document's shape of `AddParty`
pub enum AddPartyDoc {
    Resident(AddResidentParty),
    Outside(AddOutsideParty),
}

/// A resident account as a party.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the document's shape only
pub struct AddResidentParty {
    pub role: PartyRole,
    /// A resident account of the dispute's community.
    pub user_id: UserId,
}

/// An outside party, by name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the document's shape only
pub struct AddOutsideParty {
    pub role: PartyRole,
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

/// A mediation session (调解记录).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "ticket_id": 1024, "held_at": "2026-11-20T06:00:00Z",
    "mediator": {"id": 9, "display_name": "陈调解"}, "summary": "双方到场，同意由楼上住户修复防水层。",
    "outcome": "settled", "recorded_by": {"id": 9, "display_name": "陈调解"}, "created_at": "2026-11-20T08:00:00Z"}))]
pub struct MediationResponse {
    pub id: i64,
    pub ticket_id: i64,
    pub held_at: DateTime<Utc>,
    pub mediator: Option<ActorRef>,
    pub summary: String,
    /// `null` when the session ended without an outcome (to be continued).
    pub outcome: Option<MediationOutcome>,
    pub recorded_by: Option<ActorRef>,
    pub created_at: DateTime<Utc>,
}

/// A dispute's sessions in the order they were held.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": []}))]
pub struct MediationList {
    pub items: Vec<MediationResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"held_at": "2026-11-20T06:00:00Z", "mediator_id": 9,
    "summary": "双方到场，同意由楼上住户修复防水层。", "outcome": "settled"}))]
pub struct CreateMediation {
    /// When the session was held: not in the future, not before the dispute was filed.
    #[serde(deserialize_with = "super::rfc3339::required")]
    pub held_at: DateTime<Utc>,
    /// A staff member or admin holding a post in the dispute's community.
    pub mediator_id: UserId,
    /// What was discussed and agreed, 1–4000 characters.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub summary: String,
    /// Leave out while mediation continues.
    pub outcome: Option<MediationOutcome>,
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
    pub performance_deadline: Option<DateTime<Utc>>,
    /// 30 days after the agreement.
    pub due_at: DateTime<Utc>,
    /// Due and not yet recorded.
    pub overdue: bool,
    pub recorded_at: Option<DateTime<Utc>>,
    pub recorded_by: Option<ActorRef>,
    pub result: Option<FollowUpResult>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A page of follow-ups, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": null}))]
pub struct FollowUpList {
    pub items: Vec<FollowUpResponse>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The agreement (调解协议) and its follow-ups.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"ticket_id": 1024, "terms": "楼上住户于12月31日前修复卫生间防水层，并赔偿天花板修缮费800元。",
    "performance_deadline": "2026-12-31T00:00:00Z", "recorded_by": {"id": 9, "display_name": "陈调解"},
    "created_at": "2026-11-20T08:00:00Z", "updated_at": "2026-11-20T08:00:00Z", "follow_ups": []}))]
pub struct AgreementResponse {
    pub ticket_id: i64,
    pub terms: String,
    pub performance_deadline: DateTime<Utc>,
    /// Who recorded the current text.
    pub recorded_by: Option<ActorRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Oldest first; at most one is open at a time.
    pub follow_ups: Vec<FollowUpResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"terms": "楼上住户于12月31日前修复卫生间防水层，并赔偿天花板修缮费800元。",
    "performance_deadline": "2026-12-31T00:00:00Z"}))]
pub struct PutAgreement {
    /// The agreed terms, 1–4000 characters.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub terms: String,
    /// When the terms must have been performed; in the future.
    #[serde(deserialize_with = "super::rfc3339::required")]
    pub performance_deadline: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"result": "fulfilled", "note": "回访双方，防水层已修复，赔偿已支付。"}))]
pub struct RecordFollowUp {
    pub result: FollowUpResult,
    /// Up to 2000 characters.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub note: Option<String>,
}

/// Which follow-ups to list.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpStateParam {
    /// Not recorded and due now (the default).
    #[default]
    Due,
    /// Not recorded, due later.
    Upcoming,
    /// Recorded.
    Done,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FollowUpQuery {
    /// Disputes held in this unit's subtree (default: all your posts' subtrees).
    pub unit_id: Option<i64>,
    /// `due` (default), `upcoming` or `done`.
    #[param(inline)]
    pub state: Option<FollowUpStateParam>,
    /// 1–100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

// ---------------------------------------------------------------- helpers

/// A dispute the caller may read, and whether they may work it.
struct Dispute {
    ticket: TicketRow,
    context: TicketContext,
    works: bool,
}

fn load_dispute(conn: &mut AnyConnection, caller: &Caller, id: i64, lock: bool) -> Result<Dispute, ApiError> {
    let row = if lock {
        tickets::lock_ticket(conn, id)?
    } else {
        tickets::find_ticket(conn, id)?
    };
    let ticket = row.filter(|t| t.kind == Kind::Dispute).ok_or(ApiError::NotFound)?;
    let context = TicketContext::load(conn, std::slice::from_ref(&ticket))?;
    let visited = context.visited_paths(&ticket);
    let parties = context.party_user_ids(&ticket);
    let works = policy::can_work(caller, &context.readable(caller, &ticket, &visited, &parties)?);
    Ok(Dispute { ticket, context, works })
}

/// A dispute the caller works (403 for one they only read), still open.
fn workable_open_dispute(conn: &mut AnyConnection, caller: &Caller, id: i64) -> Result<Dispute, ApiError> {
    let dispute = load_dispute(conn, caller, id, true)?;
    if !dispute.works {
        return Err(ApiError::Forbidden);
    }
    if !dispute.ticket.status.is_open() {
        return Err(ApiError::conflict(
            "ticket_not_open",
            "The dispute is no longer open (assigned or accepted).",
            "该纠纷已不在处理中。",
        ));
    }
    Ok(dispute)
}

fn touch(conn: &mut AnyConnection, ticket: &TicketRow, now: NaiveDateTime) -> Result<(), ApiError> {
    tickets::update_ticket(
        conn,
        ticket.id,
        &tickets::TicketChanges {
            version: Some(ticket.version + 1),
            updated_at: Some(now),
            ..Default::default()
        },
    )?;
    Ok(())
}

fn parse_outcome(s: Option<&str>) -> Option<MediationOutcome> {
    match s? {
        "settled" => Some(MediationOutcome::Settled),
        "not_settled" => Some(MediationOutcome::NotSettled),
        _ => None,
    }
}

fn parse_result(s: Option<&str>) -> Option<FollowUpResult> {
    match s? {
        "fulfilled" => Some(FollowUpResult::Fulfilled),
        "partly_fulfilled" => Some(FollowUpResult::PartlyFulfilled),
        "not_fulfilled" => Some(FollowUpResult::NotFulfilled),
        _ => None,
    }
}

fn mediation_responses(conn: &mut AnyConnection, rows: Vec<MediationRow>) -> Result<Vec<MediationResponse>, ApiError> {
    let people = Actors::load(conn, rows.iter().flat_map(|r| [r.mediator_id, r.recorded_by]))?;
    Ok(rows
        .into_iter()
        .map(|r| MediationResponse {
            id: r.id,
            ticket_id: r.ticket_id,
            held_at: utc(r.held_at),
            mediator: people.get(r.mediator_id),
            outcome: parse_outcome(r.outcome.as_deref()),
            summary: r.summary,
            recorded_by: people.get(r.recorded_by),
            created_at: utc(r.created_at),
        })
        .collect())
}

/// Follow-up responses; `tickets` and `agreements` hold the disputes they belong to.
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
            overdue: f.recorded_at.is_none() && f.due_at <= now,
            recorded_at: f.recorded_at.map(utc),
            recorded_by: f.recorded_by.and_then(|id| people.get(id)),
            result: parse_result(f.result.as_deref()),
            note: f.note,
            created_at: utc(f.created_at),
        })
        .collect())
}

fn agreement_response(
    conn: &mut AnyConnection,
    row: AgreementRow,
    ticket: &TicketRow,
    now: NaiveDateTime,
) -> Result<AgreementResponse, ApiError> {
    let follow_ups = db::follow_ups_of(conn, ticket.id)?
        .into_iter()
        .map(|f| (f, ticket.clone()))
        .collect();
    let follow_ups = follow_up_responses(conn, follow_ups, now)?;
    let people = Actors::load(conn, [row.recorded_by])?;
    Ok(AgreementResponse {
        ticket_id: row.ticket_id,
        terms: row.terms,
        performance_deadline: utc(row.performance_deadline),
        recorded_by: people.get(row.recorded_by),
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
        follow_ups,
    })
}

// ---------------------------------------------------------------- parties

/// A dispute's parties
///
/// Applicants (申请人) and respondents (被申请人), for everyone who may read
/// the dispute. Residents see no phone number but their own; staff below
/// committee level see them masked.
#[utoipa::path(
    tag = "mediation",
    params(("id" = i64, Path, description = "Dispute (ticket) id")),
    responses(
        (status = 200, description = "The parties, in the order they were added.", body = PartyList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/disputes/{id}/parties")]
async fn list_parties(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
) -> Result<web::Json<PartyList>, ApiError> {
    let id = id.into_inner();
    let caller = auth.caller;
    let items = state
        .db
        .run(move |conn| {
            let d = load_dispute(conn, &caller, id, false)?;
            Ok(d.context.party_responses(&caller, &d.ticket, false))
        })
        .await?;
    Ok(web::Json(PartyList { items }))
}

/// Add a party to a dispute
///
/// By staff working the dispute (its current unit is in their subtree) while
/// it is open. A resident account joins once (409 `already_party`); the
/// dispute then shows in that resident's lists. At most 30 parties.
#[utoipa::path(
    tag = "mediation",
    params(("id" = i64, Path, description = "Dispute (ticket) id")),
    request_body = AddPartyDoc,
    responses(
        (status = 201, description = "The party as added.", body = PartyResponse,
            headers(("Location" = String, description = "URL of the dispute's parties"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/disputes/{id}/parties")]
async fn add_party(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<AddParty>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = body.0;
    let mut v = Validator::default();
    let party = parse_party(
        &mut v,
        "",
        &PartyInput {
            user_id: input.user_id,
            name: input.name.as_deref(),
            phone: input.phone.as_deref(),
        },
    );
    v.finish()?;
    let party = party.ok_or_else(|| ApiError::internal("validated party missing"))?;
    let role = input.role;
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let added = state
        .db
        .write(move |conn| {
            let d = workable_open_dispute(conn, &caller, id)?;
            let (user_id, name, phone) = resolve_party(conn, &party, "user_id", d.ticket.reporter_id)?;
            let existing = tickets::parties_of(conn, &[d.ticket.id])?;
            if user_id.is_some() && existing.iter().any(|p| p.user_id == user_id) {
                return Err(ApiError::conflict(
                    "already_party",
                    "This resident is a party to the dispute already.",
                    "该居民已是此纠纷的当事人。",
                ));
            }
            if existing.len() >= MAX_PARTIES {
                return Err(ApiError::conflict(
                    "too_many_parties",
                    "A dispute has at most 30 parties.",
                    "一起纠纷最多 30 位当事人。",
                ));
            }
            tickets::insert_parties(
                conn,
                &[NewPartyRow {
                    ticket_id: d.ticket.id,
                    role: role.as_str().into(),
                    user_id,
                    name: name.clone(),
                    phone,
                    created_at: now,
                }],
            )?;
            tickets::insert_event(
                conn,
                &NewEventRow::note(
                    d.ticket.id,
                    "party_added",
                    caller.id.0,
                    format!("{}: {name}", role.as_str()),
                    now,
                ),
            )?;
            touch(conn, &d.ticket, now)?;
            let d = load_dispute(conn, &caller, id, false)?;
            d.context
                .party_responses(&caller, &d.ticket, false)
                .pop()
                .ok_or(ApiError::Internal)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/disputes/{id}/parties")))
        .json(added))
}

// ---------------------------------------------------------------- sessions

/// A dispute's mediation sessions
///
/// In the order they were held, for everyone who may read the dispute (the
/// parties attended them).
#[utoipa::path(
    tag = "mediation",
    params(("id" = i64, Path, description = "Dispute (ticket) id")),
    responses(
        (status = 200, description = "The sessions, oldest first.", body = MediationList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/disputes/{id}/mediations")]
async fn list_mediations(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
) -> Result<web::Json<MediationList>, ApiError> {
    let id = id.into_inner();
    let caller = auth.caller;
    let items = state
        .db
        .run(move |conn| {
            load_dispute(conn, &caller, id, false)?;
            let rows = db::mediations_of(conn, id)?;
            mediation_responses(conn, rows)
        })
        .await?;
    Ok(web::Json(MediationList { items }))
}

/// A session as recorded by [`add_mediation`], validated.
pub(crate) struct NewSession {
    pub held_at: NaiveDateTime,
    pub mediator_id: i64,
    pub summary: String,
    pub outcome: Option<MediationOutcome>,
}

/// Records a mediation session inside a write transaction.
pub(crate) fn record_session(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    session: NewSession,
    now: NaiveDateTime,
) -> Result<MediationResponse, ApiError> {
    let d = workable_open_dispute(conn, caller, id)?;
    if session.held_at < d.ticket.created_at {
        return Err(ApiError::field(
            "held_at",
            Invalid::new(
                "before_filing",
                "A session cannot be held before the dispute was filed.",
                "调解时间不能早于纠纷登记时间。",
            ),
        ));
    }
    let mediator_ok = match queries::find_user(conn, session.mediator_id)?.filter(|u| u.active) {
        Some(user) => {
            let posts = queries::posts_with_units(conn, user.id)?;
            let mediator = caller_from(&user, posts)?;
            mediator.role.holds_posts()
                && mediator
                    .posts
                    .iter()
                    .any(|p| community_of(&p.path) == Some(d.ticket.community_id))
        }
        None => false,
    };
    if !mediator_ok {
        return Err(ApiError::field(
            "mediator_id",
            Invalid::new(
                "not_found",
                "No active staff member of this community has this id.",
                "本社区没有此编号的在岗工作人员。",
            ),
        ));
    }
    let row = db::insert_mediation(
        conn,
        &NewMediationRow {
            ticket_id: id,
            held_at: session.held_at,
            mediator_id: session.mediator_id,
            summary: session.summary,
            outcome: session.outcome.map(|o| o.as_str().to_owned()),
            recorded_by: caller.id.0,
            created_at: now,
        },
    )?;
    let note = format!(
        "session held {}; outcome: {}",
        utc(session.held_at).format("%Y-%m-%d %H:%M UTC"),
        session.outcome.map_or("to be continued", MediationOutcome::as_str)
    );
    tickets::insert_event(conn, &NewEventRow::note(id, "mediation", caller.id.0, note, now))?;
    touch(conn, &d.ticket, now)?;
    mediation_responses(conn, vec![row])?.pop().ok_or(ApiError::Internal)
}

/// Record a mediation session (调解记录)
///
/// By staff working the dispute while it is open. The mediator is a staff
/// member or admin of the dispute's community. An `outcome` of `settled` is
/// followed by the agreement (`PUT /disputes/{id}/agreement`) and `resolve`;
/// `not_settled` by escalation to the committee and `refer`.
#[utoipa::path(
    tag = "mediation",
    params(("id" = i64, Path, description = "Dispute (ticket) id")),
    request_body = CreateMediation,
    responses(
        (status = 201, description = "The session as recorded.", body = MediationResponse,
            headers(("Location" = String, description = "URL of the dispute's sessions"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/disputes/{id}/mediations")]
async fn add_mediation(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<CreateMediation>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = body.0;
    let now = state.clock.now_naive();
    let mut v = Validator::default();
    let summary = v.check("summary", multiline_text(&input.summary, 4000));
    let held_at = input.held_at.naive_utc();
    if held_at > now {
        v.push(
            "held_at",
            Invalid::new(
                "in_future",
                "A session is recorded after it was held.",
                "调解须在举行后录入。",
            ),
        );
    }
    v.finish()?;
    let summary = summary.unwrap_or_default();
    let session = NewSession {
        held_at,
        mediator_id: input.mediator_id.0,
        summary,
        outcome: input.outcome,
    };
    let caller = auth.caller;
    let created = state
        .db
        .write(move |conn| record_session(conn, &caller, id, session, now))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/disputes/{id}/mediations")))
        .json(created))
}

// ---------------------------------------------------------------- agreement

/// A dispute's agreement
///
/// The mediation agreement (调解协议) and its follow-ups, for everyone who
/// may read the dispute. 404 also when none has been recorded yet.
#[utoipa::path(
    tag = "mediation",
    params(("id" = i64, Path, description = "Dispute (ticket) id")),
    responses(
        (status = 200, description = "The agreement.", body = AgreementResponse),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/disputes/{id}/agreement")]
async fn get_agreement(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
) -> Result<web::Json<AgreementResponse>, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let agreement = state
        .db
        .run(move |conn| {
            let d = load_dispute(conn, &caller, id, false)?;
            let row = db::find_agreement(conn, id)?.ok_or(ApiError::NotFound)?;
            agreement_response(conn, row, &d.ticket, now)
        })
        .await?;
    Ok(web::Json(agreement))
}

/// Records or revises the agreement inside a write transaction; `true`
/// when it was first recorded.
pub(crate) fn save_agreement(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    terms: String,
    deadline: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(bool, AgreementResponse), ApiError> {
    let d = workable_open_dispute(conn, caller, id)?;
    let previous = db::find_agreement(conn, id)?;
    let row = db::save_agreement(
        conn,
        &AgreementRow {
            ticket_id: id,
            terms: terms.clone(),
            performance_deadline: deadline,
            recorded_by: caller.id.0,
            created_at: now,
            updated_at: now,
        },
    )?;
    db::schedule_follow_up(conn, id, now + Duration::days(FOLLOW_UP_AFTER_DAYS), now)?;
    let deadline_text = utc(deadline).format("%Y-%m-%d");
    let (kind, note) = match &previous {
        None => ("agreement", format!("performance deadline {deadline_text}: {terms}")),
        Some(old) => (
            "agreement_revised",
            format!(
                "performance deadline {deadline_text}: {terms} (was, until {}: {})",
                utc(old.performance_deadline).format("%Y-%m-%d"),
                old.terms
            ),
        ),
    };
    tickets::insert_event(conn, &NewEventRow::note(id, kind, caller.id.0, note, now))?;
    touch(conn, &d.ticket, now)?;
    Ok((previous.is_none(), agreement_response(conn, row, &d.ticket, now)?))
}

/// Record or revise the agreement (调解协议)
///
/// By staff working the dispute while it is open. Resolving a dispute (as
/// settled) needs an agreement. A follow-up visit (履行回访) falls due 30 days
/// later; revising the agreement moves the open follow-up, and the earlier
/// terms stay on the timeline. 201 when first recorded, 200 when revised.
#[utoipa::path(
    tag = "mediation",
    params(("id" = i64, Path, description = "Dispute (ticket) id")),
    request_body = PutAgreement,
    responses(
        (status = 200, description = "The revised agreement.", body = AgreementResponse),
        (status = 201, description = "The agreement, first recorded.", body = AgreementResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[put("/disputes/{id}/agreement")]
async fn put_agreement(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<PutAgreement>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = body.0;
    let now = state.clock.now_naive();
    let mut v = Validator::default();
    let terms = v.check("terms", multiline_text(&input.terms, 4000));
    let deadline = input.performance_deadline.naive_utc();
    if deadline <= now {
        v.push(
            "performance_deadline",
            Invalid::new(
                "not_future",
                "The deadline must be in the future.",
                "履行期限须晚于当前时间。",
            ),
        );
    }
    v.finish()?;
    let terms = terms.unwrap_or_default();
    let caller = auth.caller;
    let (created, agreement) = state
        .db
        .write(move |conn| save_agreement(conn, &caller, id, terms, deadline, now))
        .await?;
    Ok(if created {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/api/v1/disputes/{id}/agreement")))
            .json(agreement)
    } else {
        HttpResponse::Ok().json(agreement)
    })
}

// ---------------------------------------------------------------- follow-ups

/// Follow-ups (履行回访)
///
/// Follow-up visits of settled disputes' agreements, oldest first, for staff
/// and admins: by default those due now in the caller's subtrees. A follow-up
/// falls due 30 days after its agreement; recording it closes it.
#[utoipa::path(
    tag = "mediation",
    params(FollowUpQuery),
    responses(
        (status = 200, description = "A page of follow-ups.", body = FollowUpList),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/follow-ups")]
async fn list_follow_ups(
    state: web::Data<AppState>,
    auth: Auth,
    query: QueryParams<FollowUpQuery>,
) -> Result<web::Json<FollowUpList>, ApiError> {
    let query = query.0;
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let caller = auth.caller;
    // Follow-ups are staff work: residents may never list them.
    if caller.role == Role::Resident {
        return Err(ApiError::Forbidden);
    }
    let now = state.clock.now_naive();
    let state_filter = match query.state.unwrap_or_default() {
        FollowUpStateParam::Due => FollowUpState::Due,
        FollowUpStateParam::Upcoming => FollowUpState::Upcoming,
        FollowUpStateParam::Done => FollowUpState::Done,
    };
    let (items, next_cursor) = state
        .db
        .run(move |conn| {
            let roots: Option<Vec<String>> = match query.unit_id {
                Some(unit_id) => {
                    let unit = queries::find_unit(conn, unit_id)?
                        .filter(|u| caller.works_in(&u.path))
                        .ok_or(ApiError::NotFound)?;
                    Some(vec![unit.path])
                }
                None if caller.is_superadmin() => None,
                None => Some(caller.scope_paths()),
            };
            let unit_ids = match roots {
                None => None,
                Some(roots) => {
                    let mut ids = Vec::new();
                    for root in roots {
                        ids.extend(queries::subtree(conn, &root, false)?.into_iter().map(|u| u.id));
                    }
                    Some(ids)
                }
            };
            let rows = db::list_follow_ups(
                conn,
                &FollowUpFilter {
                    unit_ids,
                    state: state_filter,
                    now,
                    after_id: page.after_id,
                    limit: page.fetch(),
                },
            )?;
            let (rows, next) = page.finish(rows, |(f, _)| f.id);
            Ok((follow_up_responses(conn, rows, now)?, next))
        })
        .await?;
    Ok(web::Json(FollowUpList { items, next_cursor }))
}

/// Records a follow-up inside a write transaction.
pub(crate) fn record_follow_up_in(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    result: FollowUpResult,
    note: Option<String>,
    now: NaiveDateTime,
) -> Result<FollowUpResponse, ApiError> {
    let follow_up = db::find_follow_up(conn, id)?.ok_or(ApiError::NotFound)?;
    let d = load_dispute(conn, caller, follow_up.ticket_id, true)?;
    if !d.works {
        return Err(ApiError::Forbidden);
    }
    if follow_up.recorded_at.is_some() {
        return Err(ApiError::conflict(
            "follow_up_recorded",
            "This follow-up has been recorded already.",
            "该回访已登记。",
        ));
    }
    if !matches!(d.ticket.status, Status::Resolved | Status::Closed) {
        return Err(ApiError::conflict(
            "dispute_not_settled",
            "Follow up once the dispute is resolved as settled.",
            "纠纷调解办结后才能登记回访。",
        ));
    }
    let row = db::record_follow_up(conn, id, caller.id.0, result.as_str(), note.clone(), now)?;
    let text = match &note {
        Some(note) => format!("{}: {note}", result.as_str()),
        None => result.as_str().to_owned(),
    };
    tickets::insert_event(
        conn,
        &NewEventRow::note(d.ticket.id, "follow_up", caller.id.0, text, now),
    )?;
    touch(conn, &d.ticket, now)?;
    follow_up_responses(conn, vec![(row, d.ticket)], now)?
        .pop()
        .ok_or(ApiError::Internal)
}

/// Record a follow-up (履行回访)
///
/// By staff working the settled dispute (its unit is in their subtree), once:
/// whether the parties kept the agreement. Closes the follow-up (409
/// `follow_up_recorded` the second time); 409 `dispute_not_settled` while the
/// dispute is not resolved or closed.
#[utoipa::path(
    tag = "mediation",
    params(("id" = i64, Path, description = "Follow-up id")),
    request_body = RecordFollowUp,
    responses(
        (status = 200, description = "The recorded follow-up.", body = FollowUpResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/follow-ups/{id}/record")]
async fn record_follow_up(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<RecordFollowUp>,
) -> Result<web::Json<FollowUpResponse>, ApiError> {
    let id = id.into_inner();
    let input = body.0;
    let mut v = Validator::default();
    let note = input
        .note
        .as_deref()
        .and_then(|n| v.check("note", multiline_text(n, 2000)));
    v.finish()?;
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let result = input.result;
    let recorded = state
        .db
        .write(move |conn| record_follow_up_in(conn, &caller, id, result, note, now))
        .await?;
    Ok(web::Json(recorded))
}
