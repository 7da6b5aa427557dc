//! A webhook endpoint's delivery log and redelivery (admins of its
//! community). The endpoints themselves are in `webhooks`.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{Forbidden, NotFound, Unauthorized, ValidationFailed};
use super::webhooks::managed_endpoint;
use super::{PageRequest, QueryParams};
use crate::auth::Auth;
use crate::clock::utc;
use crate::db::webhooks::{self as store, DeliveryRow};
use crate::domain::notify::NotificationKind;
use crate::error::ApiError;
use crate::state::AppState;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or a retry.
    Pending,
    /// An attempt got a 2xx answer.
    Delivered,
    /// Retried for the whole window without success; redeliver it to try again.
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => store::PENDING,
            Self::Delivered => store::DELIVERED,
            Self::Failed => store::FAILED,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == s)
    }
}

/// One delivery in the log.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 4711, "kind": "arrived", "ticket_id": 1024, "status": "pending",
    "attempts": 2, "created_at": "2026-12-02T01:00:00Z", "next_attempt_at": "2026-12-02T01:01:30Z",
    "last_attempt_at": "2026-12-02T01:00:31Z", "last_status": 500, "last_error": "HTTP 500",
    "delivered_at": null}))]
pub struct DeliveryResponse {
    /// Also the `Griddesk-Delivery` header and the body's `id`.
    pub id: i64,
    pub kind: NotificationKind,
    pub ticket_id: Option<i64>,
    pub status: DeliveryStatus,
    pub attempts: i32,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
    /// When it is tried next; `null` unless pending, and while its endpoint
    /// is paused or disabled (then it goes when the endpoint is resumed).
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt, when it got one.
    pub last_status: Option<i32>,
    /// Why the last attempt failed: `HTTP 500`, `timed out`, `could not
    /// connect`, `address not allowed`, ….
    pub last_error: Option<String>,
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub delivered_at: Option<DateTime<Utc>>,
}

fn delivery_response(row: DeliveryRow) -> Result<DeliveryResponse, ApiError> {
    let kind = NotificationKind::parse(&row.kind)
        .ok_or_else(|| ApiError::internal(format!("delivery {} has kind {:?}", row.id, row.kind)))?;
    let status = DeliveryStatus::parse(&row.status)
        .ok_or_else(|| ApiError::internal(format!("delivery {} has status {:?}", row.id, row.status)))?;
    Ok(DeliveryResponse {
        id: row.id,
        kind,
        ticket_id: row.ticket_id,
        status,
        attempts: row.attempts,
        created_at: utc(row.created_at),
        next_attempt_at: (status == DeliveryStatus::Pending && row.next_attempt_at != store::parked())
            .then(|| utc(row.next_attempt_at)),
        last_attempt_at: row.last_attempt_at.map(utc),
        last_status: row.last_status,
        last_error: row.last_error,
        delivered_at: row.delivered_at.map(utc),
    })
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": null}))]
pub struct DeliveryList {
    pub items: Vec<DeliveryResponse>,
    /// Pass as `cursor` to get the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries in this status.
    pub delivery_status: Option<DeliveryStatus>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[^\u0000]*$")]
    pub cursor: Option<String>,
}

/// A webhook endpoint's delivery log
///
/// Admins of its community: every delivery, newest first, with its last
/// attempt. Delivered and failed ones are kept 30 days.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "Endpoint id"), DeliveryQuery),
    responses(
        (status = 200, description = "A page of deliveries.", body = DeliveryList),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"limit": ["out_of_range"], "cursor": ["invalid_cursor"]})))
)]
#[get("/webhooks/{id}/deliveries")]
pub(super) async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    query: QueryParams<DeliveryQuery>,
) -> Result<web::Json<DeliveryList>, ApiError> {
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let query = query.0;
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let id = id.into_inner();
    let caller = auth.caller;
    let rows = state
        .db
        .run(move |conn| {
            managed_endpoint(conn, &caller, id)?;
            Ok(store::deliveries_page(
                conn,
                id,
                query.delivery_status.map(DeliveryStatus::as_str),
                page.after_id,
                page.fetch(),
            )?)
        })
        .await?;
    let (rows, next_cursor) = page.finish(rows, |d| d.id);
    let items = rows.into_iter().map(delivery_response).collect::<Result<_, _>>()?;
    Ok(web::Json(DeliveryList { items, next_cursor }))
}

/// Redeliver a delivery
///
/// Admins of its community: the delivery goes back in the queue, due now,
/// with the same id and body (a receiver that has it already recognises
/// it). It is sent once the endpoint is active and the ticket's earlier
/// deliveries are through.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "Endpoint id"), ("delivery_id" = i64, Path, description = "Delivery id")),
    responses(
        (status = 202, description = "Queued again.", body = DeliveryResponse),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[post("/webhooks/{id}/deliveries/{delivery_id}/redeliver")]
pub(super) async fn redeliver_webhook_delivery(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let (id, delivery_id) = path.into_inner();
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let row = state
        .db
        .write(move |conn| {
            let endpoint = managed_endpoint(conn, &caller, id)?;
            store::find_delivery(conn, id, delivery_id)?.ok_or(ApiError::NotFound)?;
            // Due now, or parked until a paused or disabled endpoint resumes.
            let due = if endpoint.state == "active" {
                now
            } else {
                store::parked()
            };
            store::requeue(conn, delivery_id, due)?;
            store::find_delivery(conn, id, delivery_id)?.ok_or(ApiError::NotFound)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(delivery_response(row)?))
}
