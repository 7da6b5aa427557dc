//! The ticket lifecycle: `POST /api/v1/tickets/{id}/{action}`: each handler
//! reads its body into a `domain::lifecycle::Step` and calls
//! `service::lifecycle::apply_step`. The status machine lives in
//! `domain::ticket`, each step's rules in `domain::lifecycle`, who may act in
//! `policy::tickets`.

use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, http::header, post, web};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use utoipa::ToSchema;

use super::JsonBody;
use super::problems::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, PreconditionFailed, TransitionConflict, Unauthorized,
    UnsupportedMediaType, ValidationFailed,
};
use super::tickets::{TicketResponse, etag, load_ticket};
use crate::auth::Auth;
use crate::domain::ids::{TicketId, UnitId};
use crate::domain::lifecycle::{Expected, Step};
use crate::domain::people::{TEXT_CODES, bounded_text, multiline_text};
use crate::error::{ApiError, Invalid, Validator};
use crate::service::lifecycle;
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(accept_ticket)
        .service(resolve_ticket)
        .service(escalate_ticket)
        .service(dispatch_ticket)
        .service(return_ticket)
        .service(reopen_ticket)
        .service(close_ticket)
        .service(withdraw_ticket)
        .service(reject_ticket)
        .service(refer_ticket)
        .service(merge_ticket);
}

/// What every lifecycle action answers.
#[allow(dead_code, clippy::large_enum_variant)] // for the OpenAPI document only, never built
#[derive(utoipa::IntoResponses)]
enum ActionResponses {
    /// The updated ticket.
    #[response(status = 200, headers(("ETag" = String, description = "The ticket's new version")))]
    Updated(TicketResponse),
    #[response(status = 400)]
    BadRequest(#[ref_response] BadRequest),
    #[response(status = 401)]
    Unauthorized(#[ref_response] Unauthorized),
    #[response(status = 403)]
    Forbidden(#[ref_response] Forbidden),
    #[response(status = 404)]
    NotFound(#[ref_response] NotFound),
    #[response(status = 409)]
    Conflict(#[ref_response] TransitionConflict),
    #[response(status = 412)]
    PreconditionFailed(#[ref_response] PreconditionFailed),
    #[response(status = 413)]
    PayloadTooLarge(#[ref_response] PayloadTooLarge),
    #[response(status = 415)]
    UnsupportedMediaType(#[ref_response] UnsupportedMediaType),
    #[response(status = 422)]
    ValidationFailed(#[ref_response] ValidationFailed),
}

/// A body that may be left out entirely (then it is `T::default()`).
pub struct OptionalJsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned + Default + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = req.headers();
        let empty = headers.get(header::TRANSFER_ENCODING).is_none()
            && headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|v| v.trim() == "0");
        if empty {
            return Box::pin(async { Ok(OptionalJsonBody(T::default())) });
        }
        // A body that is sent is an object (`null` is not: the document says so).
        let body = JsonBody::<T>::from_request(req, payload);
        Box::pin(async move { Ok(OptionalJsonBody(body.await?.0)) })
    }
}

/// Sign for a ticket (签收). The body may be left out.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct AcceptRequest {
    /// The version you last saw (or send `If-Match`); a stale one answers 409.
    #[schema(minimum = 1)]
    pub version: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "（在此填写办结说明）"}))]
pub struct ResolveRequest {
    /// The resolution (办结说明), 1–2000 characters.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub note: String,
    #[schema(minimum = 1)]
    pub version: Option<i64>,
}

macro_rules! reason_request {
    ($(#[$doc:meta])* $name:ident, $example:expr) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        #[schema(example = json!({"reason": $example}))]
        pub struct $name {
            /// Why, 1–1000 characters.
            #[schema(min_length = 1, max_length = 1000, pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$")]
            pub reason: String,
            /// The version you last saw (or send `If-Match`); a stale one answers 409.
            #[schema(minimum = 1)]
            pub version: Option<i64>,
        }
    };
}

reason_request!(
    /// Send a ticket to the parent unit (上报).
    EscalateRequest,
    "（在此填写上报理由）"
);
reason_request!(
    /// Send an escalated or dispatched ticket back where it came from (退回).
    ReturnRequest,
    "（在此填写退回理由）"
);
reason_request!(
    /// Reject the resolution and have the resolving unit work again (不满意重办).
    ReopenRequest,
    "（在此填写不满意的原因）"
);
reason_request!(
    /// Take the ticket back.
    WithdrawRequest,
    "（在此填写撤回原因）"
);
reason_request!(
    /// Do not accept the ticket (不予受理).
    RejectRequest,
    "（在此填写不予受理的理由）"
);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"unit_id": 0}))]
pub struct DispatchRequest {
    /// A unit below the ticket's current unit, inside your subtree.
    pub unit_id: UnitId,
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub note: Option<String>,
    #[schema(minimum = 1)]
    pub version: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rating": 0}))]
pub struct CloseRequest {
    /// 1 (very dissatisfied) to 5 (very satisfied).
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i32,
    /// Up to 1000 characters.
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub feedback: Option<String>,
    #[schema(minimum = 1)]
    pub version: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"target": "（在此填写转往何处）"}))]
pub struct ReferRequest {
    /// Where the ticket goes outside the grid, 1–100 characters (e.g. the 12345 hotline, the people's mediation committee).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub target: String,
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub note: Option<String>,
    #[schema(minimum = 1)]
    pub version: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"into_ticket_id": 0}))]
pub struct MergeRequest {
    /// The primary ticket this one duplicates (same community, not itself merged).
    pub into_ticket_id: i64,
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub note: Option<String>,
    #[schema(minimum = 1)]
    pub version: Option<i64>,
}

/// Reasons and notes may run over several lines.
fn text(v: &mut Validator, field: &str, raw: &str, max: usize) -> String {
    v.check(field, multiline_text(raw, max)).unwrap_or_default()
}

fn optional_text(v: &mut Validator, field: &str, raw: Option<&str>, max: usize) -> Option<String> {
    raw.and_then(|r| v.check(field, multiline_text(r, max)))
}

/// `If-Match: "3"` (or `W/"3"`); `*` matches any version.
fn if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default().trim();
    if value == "*" {
        return Ok(None);
    }
    // Exactly the documented form: `"3"` or `W/"3"`, at most 18 digits.
    let tag = value.strip_prefix("W/").unwrap_or(value);
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|digits| (1..=18).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .map(Some)
        .ok_or(ApiError::BadRequest {
            code: "invalid_if_match",
            detail: crate::error::Text::new(
                "`If-Match` must be an ETag of this API, e.g. \"3\".",
                "If-Match 须为本接口返回的 ETag，例如 \"3\"。",
            ),
        })
}

fn invalid(field: &str, code: &'static str, en: &'static str, zh: &'static str) -> ApiError {
    ApiError::field(field, Invalid::new(code, en, zh))
}

async fn act(
    state: &AppState,
    req: &HttpRequest,
    auth: Auth,
    id: i64,
    body_version: Option<i64>,
    step: Step,
) -> Result<HttpResponse, ApiError> {
    let header_version = if_match(req)?;
    let expected = header_version
        .map(Expected::IfMatch)
        .or(body_version.map(Expected::Body));
    if let (Some(h), Some(b)) = (header_version, body_version)
        && h != b
    {
        return Err(invalid(
            "version",
            "disagrees_with_if_match",
            "`version` and `If-Match` name different versions.",
            "version 与 If-Match 不一致。",
        ));
    }
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let ticket = state
        .db
        .write(move |conn| {
            let id = lifecycle::apply_step(conn, &caller, TicketId(id), expected, step, now)?;
            load_ticket(conn, &caller, id.0, now)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(ticket.version)))
        .json(ticket))
}

/// Sign for a ticket (签收)
///
/// `assigned` → `accepted`, by staff whose subtree holds the ticket's current
/// unit. Of two workers signing for the same ticket at once, exactly one wins;
/// the other gets 409.
#[utoipa::path(
    tag = "lifecycle",
    params(("id" = i64, Path, description = "Ticket id"), ("If-Match" = Option<String>, Header, description = "The ETag you last saw, e.g. `\"3\"`; a stale one answers 412", pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#)),
    request_body(content = Option<AcceptRequest>, description = "May be left out"),
    responses(ActionResponses),
    security(("bearer" = []))
)]
#[post("/tickets/{id}/accept")]
async fn accept_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
    body: OptionalJsonBody<AcceptRequest>,
) -> Result<HttpResponse, ApiError> {
    act(&state, &req, auth, id.into_inner(), body.0.version, Step::Accept).await
}

/// Resolve a ticket (办结)
///
/// `accepted` → `resolved`, with the resolution note. The reporter then
/// confirms (`close`) or rejects it within 7 days (`reopen`). A dispute is
/// resolved only as settled (`outcome: settled`), after its mediation
/// agreement is recorded (else 409 `agreement_required`); a dispute that could
/// not be settled is referred instead.
#[utoipa::path(
    tag = "lifecycle",
    params(("id" = i64, Path, description = "Ticket id"), ("If-Match" = Option<String>, Header, description = "The ETag you last saw, e.g. `\"3\"`; a stale one answers 412", pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#)),
    request_body = ResolveRequest,
    responses(ActionResponses),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["agreement_required"]})),
        ("x-field-codes" = json!({"note": TEXT_CODES}))
    )
)]
#[post("/tickets/{id}/resolve")]
async fn resolve_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<ResolveRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::default();
    let note = text(&mut v, "note", &body.0.note, 2000);
    v.finish()?;
    act(
        &state,
        &req,
        auth,
        id.into_inner(),
        body.0.version,
        Step::Resolve { note },
    )
    .await
}

/// Escalate a ticket (上报)
///
/// To the parent unit, with a reason; the ticket waits there to be signed for,
/// with fresh deadlines. From the committee, refer it instead (409 `no_parent`).
#[utoipa::path(
    tag = "lifecycle",
    params(("id" = i64, Path, description = "Ticket id"), ("If-Match" = Option<String>, Header, description = "The ETag you last saw, e.g. `\"3\"`; a stale one answers 412", pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#)),
    request_body = EscalateRequest,
    responses(ActionResponses),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["no_parent"]})),
        ("x-field-codes" = json!({"reason": TEXT_CODES}))
    )
)]
#[post("/tickets/{id}/escalate")]
async fn escalate_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<EscalateRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::default();
    let reason = text(&mut v, "reason", &body.0.reason, 1000);
    v.finish()?;
    act(
        &state,
        &req,
        auth,
        id.into_inner(),
        body.0.version,
        Step::Escalate { reason },
    )
    .await
}

/// Dispatch a ticket (下派)
///
/// A higher unit hands the ticket to a unit below it, inside the caller's
/// subtree; it waits there to be signed for.
#[utoipa::path(
    tag = "lifecycle",
    params(("id" = i64, Path, description = "Ticket id"), ("If-Match" = Option<String>, Header, description = "The ETag you last saw, e.g. `\"3\"`; a stale one answers 412", pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#)),
    request_body = DispatchRequest,
    responses(ActionResponses),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["nothing_below"]})),
        ("x-field-codes" = json!({"note": TEXT_CODES, "unit_id": ["not_found", "not_below_current"]}))
    )
)]
#[post("/tickets/{id}/dispatch")]
async fn dispatch_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<DispatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::default();
    let note = optional_text(&mut v, "note", body.0.note.as_deref(), 1000);
    v.finish()?;
    let step = Step::Dispatch {
        unit_id: body.0.unit_id,
        note,
    };
    act(&state, &req, auth, id.into_inner(), body.0.version, step).await
}

/// Return a ticket (退回)
///
/// A unit that received an escalated or dispatched ticket sends it back where
/// it came from, with a reason; `bounce_count` goes up.
#[utoipa::path(
    tag = "lifecycle",
    params(("id" = i64, Path, description = "Ticket id"), ("If-Match" = Option<String>, Header, description = "The ETag you last saw, e.g. `\"3\"`; a stale one answers 412", pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#)),
    request_body = ReturnRequest,
    responses(ActionResponses),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["nothing_to_return"]})),
        ("x-field-codes" = json!({"reason": TEXT_CODES}))
    )
)]
#[post("/tickets/{id}/return")]
async fn return_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<ReturnRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::default();
    let reason = text(&mut v, "reason", &body.0.reason, 1000);
    v.finish()?;
    act(
        &state,
        &req,
        auth,
        id.into_inner(),
        body.0.version,
        Step::Return { reason },
    )
    .await
}

/// Reopen a ticket (不满意重办)
///
/// The reporter rejects a resolution within 7 days; the ticket goes back to
/// the unit that resolved it.
#[utoipa::path(
    tag = "lifecycle",
    params(("id" = i64, Path, description = "Ticket id"), ("If-Match" = Option<String>, Header, description = "The ETag you last saw, e.g. `\"3\"`; a stale one answers 412", pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#)),
    request_body = ReopenRequest,
    responses(ActionResponses),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["reopen_window_closed"]})),
        ("x-field-codes" = json!({"reason": TEXT_CODES}))
    )
)]
#[post("/tickets/{id}/reopen")]
async fn reopen_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<ReopenRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::default();
    let reason = text(&mut v, "reason", &body.0.reason, 1000);
    v.finish()?;
    act(
        &state,
        &req,
        auth,
        id.into_inner(),
        body.0.version,
        Step::Reopen { reason },
    )
    .await
}

/// Confirm and rate a resolution
///
/// The reporter closes a resolved ticket with a rating from 1 to 5.
#[utoipa::path(
    tag = "lifecycle",
    params(("id" = i64, Path, description = "Ticket id"), ("If-Match" = Option<String>, Header, description = "The ETag you last saw, e.g. `\"3\"`; a stale one answers 412", pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#)),
    request_body = CloseRequest,
    responses(ActionResponses),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"rating": ["out_of_range"], "feedback": TEXT_CODES})))
)]
#[post("/tickets/{id}/close")]
async fn close_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<CloseRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::default();
    if !(1..=5).contains(&body.0.rating) {
        v.push(
            "rating",
            Invalid::new("out_of_range", "Rate from 1 to 5.", "评分须为 1 到 5。"),
        );
    }
    let feedback = optional_text(&mut v, "feedback", body.0.feedback.as_deref(), 1000);
    v.finish()?;
    let step = Step::Close {
        rating: body.0.rating,
        feedback,
    };
    act(&state, &req, auth, id.into_inner(), body.0.version, step).await
}

/// Withdraw a ticket
///
/// The reporter takes back a ticket that is still open.
#[utoipa::path(
    tag = "lifecycle",
    params(("id" = i64, Path, description = "Ticket id"), ("If-Match" = Option<String>, Header, description = "The ETag you last saw, e.g. `\"3\"`; a stale one answers 412", pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#)),
    request_body = WithdrawRequest,
    responses(ActionResponses),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"reason": TEXT_CODES})))
)]
#[post("/tickets/{id}/withdraw")]
async fn withdraw_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<WithdrawRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::default();
    let reason = text(&mut v, "reason", &body.0.reason, 1000);
    v.finish()?;
    act(
        &state,
        &req,
        auth,
        id.into_inner(),
        body.0.version,
        Step::Withdraw { reason },
    )
    .await
}

/// Reject a ticket (不予受理)
///
/// Out of scope, or a duplicate, with the reason.
#[utoipa::path(
    tag = "lifecycle",
    params(("id" = i64, Path, description = "Ticket id"), ("If-Match" = Option<String>, Header, description = "The ETag you last saw, e.g. `\"3\"`; a stale one answers 412", pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#)),
    request_body = RejectRequest,
    responses(ActionResponses),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"reason": TEXT_CODES})))
)]
#[post("/tickets/{id}/reject")]
async fn reject_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::default();
    let reason = text(&mut v, "reason", &body.0.reason, 1000);
    v.finish()?;
    act(
        &state,
        &req,
        auth,
        id.into_inner(),
        body.0.version,
        Step::Reject { reason },
    )
    .await
}

/// Refer a ticket outside the grid
///
/// Committee only: hand the ticket to the 12345 hotline, the people's
/// mediation committee or another body, named in `target`. A referred
/// dispute's `outcome` is `not_settled`.
#[utoipa::path(
    tag = "lifecycle",
    params(("id" = i64, Path, description = "Ticket id"), ("If-Match" = Option<String>, Header, description = "The ETag you last saw, e.g. `\"3\"`; a stale one answers 412", pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#)),
    request_body = ReferRequest,
    responses(ActionResponses),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"target": TEXT_CODES, "note": TEXT_CODES})))
)]
#[post("/tickets/{id}/refer")]
async fn refer_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<ReferRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::default();
    let target = v.check("target", bounded_text(&body.0.target, 100)).unwrap_or_default();
    let note = optional_text(&mut v, "note", body.0.note.as_deref(), 1000);
    v.finish()?;
    act(
        &state,
        &req,
        auth,
        id.into_inner(),
        body.0.version,
        Step::Refer { target, note },
    )
    .await
}

/// Merge a duplicate
///
/// Closes this ticket as a duplicate of `into_ticket_id`; both timelines
/// record the link.
#[utoipa::path(
    tag = "lifecycle",
    params(("id" = i64, Path, description = "Ticket id"), ("If-Match" = Option<String>, Header, description = "The ETag you last saw, e.g. `\"3\"`; a stale one answers 412", pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#)),
    request_body = MergeRequest,
    responses(ActionResponses),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"note": TEXT_CODES, "into_ticket_id": ["itself", "not_found", "not_mergeable"]})))
)]
#[post("/tickets/{id}/merge")]
async fn merge_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<MergeRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::default();
    let note = optional_text(&mut v, "note", body.0.note.as_deref(), 1000);
    v.finish()?;
    let step = Step::Merge {
        into: TicketId(body.0.into_ticket_id),
        note,
    };
    act(&state, &req, auth, id.into_inner(), body.0.version, step).await
}
