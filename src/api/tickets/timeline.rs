//! A ticket's timeline (append-only events) and its comments.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::*;
use crate::api::problems::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use crate::api::{JsonBody, PageRequest, QueryParams};
use crate::auth::Auth;
use crate::clock::utc;
use crate::db::models::{EventRow, NewEventRow, UserRow};
use crate::db::queries;
use crate::db::tickets::{self as db, EventFilter};
use crate::domain::ids::{UnitId, UserId};
use crate::domain::people::{TEXT_CODES, multiline_text};
use crate::domain::ticket::Status;
use crate::error::{ApiError, Validator};
use crate::policy::Caller;
use crate::policy::tickets::{self as policy, HiddenReporter};
use crate::service::timeline;
use crate::service::visibility::TicketContext;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[^\u0000]*$")]
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
            let hidden = context.hidden_reporter(&caller, &row)?;
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
            let items = events.into_iter().map(|e| event_response(e, &actors, hidden)).collect();
            Ok(EventList { items, next_cursor })
        })
        .await
}

/// One timeline entry as the caller may see it: where the reporter is hidden
/// from them, the reporter's own steps and comments show no actor, and no
/// note the system wrote names them.
pub fn event_response(e: EventRow, actors: &HashMap<i64, UserRow>, hidden: Option<HiddenReporter>) -> EventResponse {
    let note = match hidden {
        Some(h) => h.note(e.kind.as_str(), e.note),
        None => e.note,
    };
    EventResponse {
        id: e.id,
        ticket_id: e.ticket_id,
        actor: e
            .actor_id
            .filter(|id| !hidden.is_some_and(|h| h.is(*id)))
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
        note,
        internal: e.internal,
        created_at: utc(e.created_at),
    }
}

/// A ticket's timeline
///
/// Every transition, comment and system action, oldest first; append-only.
/// Internal notes are left out for residents. Where the caller may not see
/// an anonymous ticket's reporter, the reporter's own entries have no
/// `actor` and no note names them (a ticket staff filed for them says
/// "filed by staff for a resident").
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
/// Public comments, and internal notes for staff; oldest first. Where the
/// caller may not see an anonymous ticket's reporter, the reporter's
/// comments have no `actor`.
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
#[schema(example = json!({"body": "（在此填写留言）", "internal": true}))]
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
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"403": ["staff_only"]})),
        ("x-field-codes" = json!({"body": TEXT_CODES}))
    )
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
            let hidden = TicketContext::load(conn, std::slice::from_ref(&row))?.hidden_reporter(&caller, &row)?;
            let event = timeline::record(
                conn,
                Some(&row),
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
            Ok(event_response(event, &actors, hidden))
        })
        .await?;
    Ok(HttpResponse::Created().json(event))
}
