//! Follow-up visits (履行回访) of agreements.

use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{FollowUpResponse, follow_up_responses};
use crate::api::problems::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use crate::api::{JsonBody, PageRequest, QueryParams};
use crate::auth::Auth;
use crate::db::mediation::FollowUpState;
use crate::domain::mediation::{self as rules, FollowUpResult};
use crate::domain::people::{TEXT_CODES, multiline_text};
use crate::error::{ApiError, Validator};
use crate::policy::mediation::may_list_follow_ups;
use crate::service::mediation::{self as service, FollowUpListing};
use crate::state::AppState;

/// A page of follow-ups, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": null}))]
pub struct FollowUpList {
    pub items: Vec<FollowUpResponse>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "（在此填写回访情况）"}))]
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
    #[param(pattern = r"^[^\u0000]*$")]
    pub cursor: Option<String>,
}

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
pub(super) async fn list_follow_ups(
    state: web::Data<AppState>,
    auth: Auth,
    query: QueryParams<FollowUpQuery>,
) -> Result<web::Json<FollowUpList>, ApiError> {
    let query = query.0;
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let caller = auth.caller;
    // Asked before the database is: a resident never gets further.
    if !may_list_follow_ups(&caller) {
        return Err(ApiError::Forbidden);
    }
    let now = state.clock.now_naive();
    let listing = FollowUpListing {
        unit_id: query.unit_id,
        state: match query.state.unwrap_or_default() {
            FollowUpStateParam::Due => FollowUpState::Due,
            FollowUpStateParam::Upcoming => FollowUpState::Upcoming,
            FollowUpStateParam::Done => FollowUpState::Done,
        },
        now,
        after_id: page.after_id,
        limit: page.fetch(),
    };
    let (items, next_cursor) = state
        .db
        .run(move |conn| {
            let rows = service::follow_ups(conn, &caller, listing)?;
            let (rows, next) = page.finish(rows, |(f, _)| f.id);
            Ok((follow_up_responses(conn, rows, now)?, next))
        })
        .await?;
    Ok(web::Json(FollowUpList { items, next_cursor }))
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
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["follow_up_recorded", "dispute_not_settled"]})),
        ("x-field-codes" = json!({"note": TEXT_CODES}))
    )
)]
#[post("/follow-ups/{id}/record")]
pub(super) async fn record_follow_up(
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
        .and_then(|n| v.check("note", multiline_text(n, rules::FOLLOW_UP_NOTE_MAX_CHARS)));
    v.finish()?;
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let result = input.result;
    let recorded = state
        .db
        .write(move |conn| {
            let row = service::record_follow_up(conn, &caller, id, result, note, now)?;
            follow_up_responses(conn, vec![row], now)?
                .pop()
                .ok_or(ApiError::Internal)
        })
        .await?;
    Ok(web::Json(recorded))
}
