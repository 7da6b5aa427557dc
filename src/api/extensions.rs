//! Deadline extensions (延期申请): the unit handling a ticket asks for more
//! time; the level above approves or denies; approval moves the resolve
//! deadline. Every step is on the ticket's timeline.

use actix_web::{HttpResponse, get, http::header, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::JsonBody;
use super::actions::OptionalJsonBody;
use super::problems::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use super::tickets::{ActorRef, Actors};
use crate::auth::Auth;
use crate::clock::utc;
use crate::db::AnyConnection;
use crate::db::models::ExtensionRow;
use crate::domain::extensions::{self as rules, Decision};
use crate::domain::ids::UnitId;
use crate::domain::people::{TEXT_CODES, multiline_text};
use crate::error::{ApiError, Validator};
use crate::policy::Caller;
use crate::service::extensions as service;
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(create_extension_request)
        .service(list_extension_requests)
        .service(approve_extension_request)
        .service(deny_extension_request);
}

/// A request for more time.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 5, "ticket_id": 1024, "unit_id": 30, "requested_by": {"id": 7, "display_name": "林网格"},
    "hours": 48, "reason": "需等待物业采购配件。", "status": "approved", "decided_by": {"id": 9, "display_name": "楼栋长"},
    "decided_at": "2026-11-29T02:00:00Z", "decision_note": "同意延期两天。", "created_at": "2026-11-28T02:00:00Z"}))]
pub struct ExtensionResponse {
    pub id: i64,
    pub ticket_id: i64,
    /// The unit that asked (the ticket's unit at the time).
    pub unit_id: UnitId,
    pub requested_by: Option<ActorRef>,
    /// Hours added to the resolve deadline on approval.
    pub hours: i32,
    pub reason: String,
    pub status: rules::ExtensionStatus,
    pub decided_by: Option<ActorRef>,
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": []}))]
pub struct ExtensionList {
    pub items: Vec<ExtensionResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"hours": 24, "reason": "（在此填写延期理由）"}))]
pub struct CreateExtension {
    /// 1–720 hours added to the resolve deadline.
    #[schema(minimum = 1, maximum = 720)]
    pub hours: i32,
    /// 1–1000 characters.
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct DecideExtension {
    /// Up to 1000 characters. The body may be left out.
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub note: Option<String>,
}

fn responses(conn: &mut AnyConnection, rows: Vec<ExtensionRow>) -> Result<Vec<ExtensionResponse>, ApiError> {
    let people = Actors::load(
        conn,
        rows.iter().flat_map(|r| [Some(r.requested_by), r.decided_by]).flatten(),
    )?;
    let actor = |id: i64| people.get(id);
    Ok(rows
        .into_iter()
        .map(|r| ExtensionResponse {
            id: r.id,
            ticket_id: r.ticket_id,
            unit_id: UnitId(r.unit_id),
            requested_by: actor(r.requested_by),
            hours: r.hours,
            reason: r.reason,
            status: r.status,
            decided_by: r.decided_by.and_then(actor),
            decided_at: r.decided_at.map(utc),
            decision_note: r.decision_note,
            created_at: utc(r.created_at),
        })
        .collect())
}

fn response(conn: &mut AnyConnection, row: ExtensionRow) -> Result<ExtensionResponse, ApiError> {
    responses(conn, vec![row])?.pop().ok_or(ApiError::Internal)
}

/// Ask for more time (延期申请)
///
/// By staff of the unit handling an open ticket; one pending request per
/// ticket. The level above decides.
#[utoipa::path(
    tag = "deadlines",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = CreateExtension,
    responses(
        (status = 201, description = "The request, pending.", body = ExtensionResponse,
            headers(("Location" = String, description = "URL of the ticket's extension requests"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["ticket_not_open", "extension_pending"]})),
        ("x-field-codes" = json!({"hours": ["out_of_range"], "reason": TEXT_CODES}))
    )
)]
#[post("/tickets/{id}/extension-requests")]
async fn create_extension_request(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<CreateExtension>,
) -> Result<HttpResponse, ApiError> {
    let ticket_id = id.into_inner();
    let input = body.0;
    let mut v = Validator::default();
    v.check("hours", rules::check_hours(input.hours));
    let reason = v.check("reason", multiline_text(&input.reason, rules::TEXT_MAX_CHARS));
    v.finish()?;
    let reason = reason.unwrap_or_default();
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let created = state
        .db
        .write(move |conn| {
            let row = service::request_extension(conn, &caller, ticket_id, input.hours, reason, now)?;
            response(conn, row)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/tickets/{ticket_id}/extension-requests"),
        ))
        .json(created))
}

/// A ticket's extension requests
///
/// For everyone who may read the ticket, oldest first.
#[utoipa::path(
    tag = "deadlines",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The requests.", body = ExtensionList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/tickets/{id}/extension-requests")]
async fn list_extension_requests(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
) -> Result<web::Json<ExtensionList>, ApiError> {
    let ticket_id = id.into_inner();
    let caller = auth.caller;
    let items = state
        .db
        .run(move |conn| {
            let rows = service::extensions_of(conn, &caller, ticket_id)?;
            responses(conn, rows)
        })
        .await?;
    Ok(web::Json(ExtensionList { items }))
}

async fn decide(
    state: &AppState,
    caller: Caller,
    id: i64,
    decision: Decision,
    note: Option<String>,
) -> Result<ExtensionResponse, ApiError> {
    let now = state.clock.now_naive();
    state
        .db
        .write(move |conn| {
            let row = service::decide_extension(conn, &caller, id, decision, note, now)?;
            response(conn, row)
        })
        .await
}

fn decision_note(body: DecideExtension) -> Result<Option<String>, ApiError> {
    let mut v = Validator::default();
    let note = body
        .note
        .as_deref()
        .and_then(|n| v.check("note", multiline_text(n, rules::TEXT_MAX_CHARS)));
    v.finish()?;
    Ok(note)
}

/// Approve an extension
///
/// By staff of the level above the unit that asked (admins for the
/// committee); moves the ticket's resolve deadline by the hours asked.
/// Never by the person who asked, whatever else they hold (403
/// `own_request`), nor through an account whose password that person set
/// (an account an admin created, until its holder changes the password;
/// also through a chain of such accounts: 403 `password_set_by_requester`):
/// a committee's request goes to another of its admins or a super-admin.
#[utoipa::path(
    tag = "deadlines",
    params(("id" = i64, Path, description = "Extension request id")),
    request_body(content = Option<DecideExtension>, description = "May be left out"),
    responses(
        (status = 200, description = "The decided request.", body = ExtensionResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"403": ["own_request", "password_set_by_requester"], "409": ["extension_decided", "extension_stale"]})),
        ("x-field-codes" = json!({"note": TEXT_CODES}))
    )
)]
#[post("/extension-requests/{id}/approve")]
async fn approve_extension_request(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: OptionalJsonBody<DecideExtension>,
) -> Result<web::Json<ExtensionResponse>, ApiError> {
    let note = decision_note(body.0)?;
    Ok(web::Json(
        decide(&state, auth.caller, id.into_inner(), Decision::Approve, note).await?,
    ))
}

/// Deny an extension
///
/// By staff of the level above the unit that asked (admins for the
/// committee), never by the person who asked (403 `own_request`) nor through
/// an account whose password they set (403 `password_set_by_requester`).
#[utoipa::path(
    tag = "deadlines",
    params(("id" = i64, Path, description = "Extension request id")),
    request_body(content = Option<DecideExtension>, description = "May be left out"),
    responses(
        (status = 200, description = "The decided request.", body = ExtensionResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"403": ["own_request", "password_set_by_requester"], "409": ["extension_decided", "extension_stale"]})),
        ("x-field-codes" = json!({"note": TEXT_CODES}))
    )
)]
#[post("/extension-requests/{id}/deny")]
async fn deny_extension_request(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: OptionalJsonBody<DecideExtension>,
) -> Result<web::Json<ExtensionResponse>, ApiError> {
    let note = decision_note(body.0)?;
    Ok(web::Json(
        decide(&state, auth.caller, id.into_inner(), Decision::Deny, note).await?,
    ))
}
