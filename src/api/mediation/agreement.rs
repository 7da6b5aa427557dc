//! A dispute's agreement (调解协议).

use actix_web::{HttpResponse, get, http::header, put, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FollowUpResponse, follow_up_responses};
use crate::api::JsonBody;
use crate::api::problems::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use crate::api::tickets::{ActorRef, Actors};
use crate::auth::Auth;
use crate::clock::utc;
use crate::db::AnyConnection;
use crate::db::mediation as db;
use crate::db::models::{AgreementRow, TicketRow};
use crate::domain::mediation as rules;
use crate::domain::people::{TEXT_CODES, multiline_text};
use crate::error::{ApiError, Validator};
use crate::service::mediation as service;
use crate::state::AppState;

/// The agreement (调解协议) and its follow-ups.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"ticket_id": 1024, "terms": "楼上住户于12月31日前修复卫生间防水层，并赔偿天花板修缮费800元。",
    "performance_deadline": "2026-12-31T00:00:00Z", "recorded_by": {"id": 9, "display_name": "陈调解"},
    "created_at": "2026-11-20T08:00:00Z", "updated_at": "2026-11-20T08:00:00Z", "follow_ups": []}))]
pub struct AgreementResponse {
    pub ticket_id: i64,
    pub terms: String,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub performance_deadline: DateTime<Utc>,
    /// Who recorded the current text.
    pub recorded_by: Option<ActorRef>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub updated_at: DateTime<Utc>,
    /// Oldest first; at most one is open at a time.
    pub follow_ups: Vec<FollowUpResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"terms": "（在此填写协议条款）"}))]
pub struct PutAgreement {
    /// The agreed terms, 1–4000 characters.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub terms: String,
    /// When the terms must have been performed; in the future.
    #[serde(deserialize_with = "crate::api::rfc3339::required")]
    pub performance_deadline: DateTime<Utc>,
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
pub(super) async fn get_agreement(
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
            let (row, ticket) = service::agreement(conn, &caller, id)?;
            agreement_response(conn, row, &ticket, now)
        })
        .await?;
    Ok(web::Json(agreement))
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
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["ticket_not_open"]})),
        ("x-field-codes" = json!({"terms": TEXT_CODES, "performance_deadline": ["not_future"]}))
    )
)]
#[put("/disputes/{id}/agreement")]
pub(super) async fn put_agreement(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<PutAgreement>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = body.0;
    let now = state.clock.now_naive();
    let mut v = Validator::default();
    let terms = v.check("terms", multiline_text(&input.terms, rules::SUMMARY_MAX_CHARS));
    let deadline = input.performance_deadline.naive_utc();
    v.check("performance_deadline", rules::check_performance_deadline(deadline, now));
    v.finish()?;
    let terms = terms.unwrap_or_default();
    let caller = auth.caller;
    let (created, agreement) = state
        .db
        .write(move |conn| {
            let saved = service::save_agreement(conn, &caller, id, terms, deadline, now)?;
            let response = agreement_response(conn, saved.agreement, &saved.ticket, now)?;
            Ok((saved.created, response))
        })
        .await?;
    Ok(if created {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/api/v1/disputes/{id}/agreement")))
            .json(agreement)
    } else {
        HttpResponse::Ok().json(agreement)
    })
}
