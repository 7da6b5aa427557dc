//! A dispute's mediation sessions (调解记录).

use actix_web::{HttpResponse, get, http::header, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::JsonBody;
use crate::api::problems::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use crate::api::tickets::{ActorRef, Actors};
use crate::auth::Auth;
use crate::clock::utc;
use crate::db::AnyConnection;
use crate::db::models::MediationRow;
use crate::domain::ids::UserId;
use crate::domain::mediation::{self as rules, MediationOutcome, NewSession};
use crate::domain::people::{TEXT_CODES, multiline_text};
use crate::error::{ApiError, Validator};
use crate::service::mediation as service;
use crate::state::AppState;

/// A mediation session (调解记录).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "ticket_id": 1024, "held_at": "2026-11-20T06:00:00Z",
    "mediator": {"id": 9, "display_name": "陈调解"}, "summary": "双方到场，同意由楼上住户修复防水层。",
    "outcome": "settled", "recorded_by": {"id": 9, "display_name": "陈调解"}, "created_at": "2026-11-20T08:00:00Z"}))]
pub struct MediationResponse {
    pub id: i64,
    pub ticket_id: i64,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub held_at: DateTime<Utc>,
    pub mediator: Option<ActorRef>,
    pub summary: String,
    /// `null` when the session ended without an outcome (to be continued).
    pub outcome: Option<MediationOutcome>,
    pub recorded_by: Option<ActorRef>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
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
#[schema(example = json!({"held_at": "2026-11-20T06:00:00Z", "mediator_id": 0, "summary": "（在此填写调解经过）"}))]
pub struct CreateMediation {
    /// When the session was held: not in the future, not before the dispute was filed.
    #[serde(deserialize_with = "crate::api::rfc3339::required")]
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

fn mediation_responses(conn: &mut AnyConnection, rows: Vec<MediationRow>) -> Result<Vec<MediationResponse>, ApiError> {
    let people = Actors::load(conn, rows.iter().flat_map(|r| [r.mediator_id, r.recorded_by]))?;
    Ok(rows
        .into_iter()
        .map(|r| MediationResponse {
            id: r.id,
            ticket_id: r.ticket_id,
            held_at: utc(r.held_at),
            mediator: people.get(r.mediator_id),
            outcome: r.outcome.as_deref().and_then(MediationOutcome::parse),
            summary: r.summary,
            recorded_by: people.get(r.recorded_by),
            created_at: utc(r.created_at),
        })
        .collect())
}

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
pub(super) async fn list_mediation_sessions(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
) -> Result<web::Json<MediationList>, ApiError> {
    let id = id.into_inner();
    let caller = auth.caller;
    let items = state
        .db
        .run(move |conn| {
            let rows = service::sessions(conn, &caller, id)?;
            mediation_responses(conn, rows)
        })
        .await?;
    Ok(web::Json(MediationList { items }))
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
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["ticket_not_open"]})),
        ("x-field-codes" = json!({"summary": TEXT_CODES, "held_at": ["in_future", "before_filing"], "mediator_id": ["not_found"]}))
    )
)]
#[post("/disputes/{id}/mediations")]
pub(super) async fn add_mediation_session(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<CreateMediation>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = body.0;
    let now = state.clock.now_naive();
    let mut v = Validator::default();
    let summary = v.check("summary", multiline_text(&input.summary, rules::SUMMARY_MAX_CHARS));
    let held_at = input.held_at.naive_utc();
    v.check("held_at", rules::check_held_at(held_at, now));
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
        .write(move |conn| {
            let row = service::record_session(conn, &caller, id, session, now)?;
            mediation_responses(conn, vec![row])?.pop().ok_or(ApiError::Internal)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/disputes/{id}/mediations")))
        .json(created))
}
