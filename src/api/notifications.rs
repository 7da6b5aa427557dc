//! The signed-in caller's notifications: the feed, its unread count, and
//! marking read. Each person reads only their own; what one says is in
//! `domain::notify`, its text in the reader's language here.

use std::collections::HashMap;

use actix_web::{HttpRequest, get, http::header, post, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{BadRequest, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed};
use super::tickets::UnitRef;
use super::{JsonBody, PageRequest, QueryParams};
use crate::auth::Auth;
use crate::clock::utc;
use crate::db::AnyConnection;
use crate::db::notifications::{self as store, Marked, NotificationRow};
use crate::db::tickets::units_by_ids;
use crate::domain::ids::{TicketId, UnitId};
use crate::domain::notify::NotificationKind;
use crate::domain::text::{Invalid, Lang};
use crate::error::{ApiError, Validator};
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(list_notifications)
        .service(count_unread_notifications)
        .service(super::notification_stream::stream_notifications)
        .service(mark_notifications_read);
}

/// Something the caller is told about a ticket.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 88, "kind": "arrived", "ticket_id": 1024,
    "unit": {"id": 31, "name": "1号楼1单元党员中心户", "level": "household"},
    "due_at": "2026-12-03T01:00:00Z", "title": "新工单待签收",
    "body": "工单 #1024 已到达1号楼1单元党员中心户，请在 2026-12-03 09:00 前签收。",
    "created_at": "2026-12-02T01:00:00Z", "read_at": null}))]
pub struct NotificationResponse {
    pub id: i64,
    pub kind: NotificationKind,
    /// The ticket it concerns; `null` for `webhook_disabled`, which
    /// concerns a community's webhook.
    pub ticket_id: Option<TicketId>,
    /// The unit it concerns: where the ticket arrived, moved to, was signed
    /// for or resolved, missed a deadline or asked for more time.
    pub unit: Option<UnitRef>,
    /// The deadline it names: to sign for (`arrived`), of the auto-close
    /// (`resolved`), the one missed (`overdue`, `urged`), to resolve
    /// (`extension_*`).
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub due_at: Option<DateTime<Utc>>,
    /// A headline in the language of `Accept-Language`.
    pub title: String,
    /// One sentence in the language of `Accept-Language`, the deadline in
    /// the deployment's time zone.
    pub body: String,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
    /// When the caller marked it read; `null` while unread.
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub read_at: Option<DateTime<Utc>>,
}

/// A page of notifications, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": null}))]
pub struct NotificationList {
    pub items: Vec<NotificationResponse>,
    /// Pass as `cursor` to get the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only those not yet marked read.
    pub unread: Option<bool>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[^\u0000]*$")]
    pub cursor: Option<String>,
}

/// List my notifications
///
/// What the caller has been told, newest first: tickets arriving at their
/// units, and what happened to the tickets they filed or are party to. A
/// notification names no person and quotes nobody: open the ticket for
/// the rest, under the ticket's own rules.
#[utoipa::path(
    tag = "notifications",
    params(NotificationQuery),
    responses(
        (status = 200, description = "A page of notifications.", body = NotificationList),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"limit": ["out_of_range"], "cursor": ["invalid_cursor"]})))
)]
#[get("/notifications")]
async fn list_notifications(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    query: QueryParams<NotificationQuery>,
) -> Result<web::Json<NotificationList>, ApiError> {
    let query = query.0;
    let page = PageRequest::parse(Some(query.limit.unwrap_or(20)), query.cursor.as_deref())?;
    let unread = query.unread.unwrap_or(false);
    let user_id = auth.user.id;
    let (rows, units) = state
        .db
        .run(move |conn| {
            let rows = store::page(conn, user_id, unread, page.after_id, page.fetch())?;
            let units = units_of(conn, &rows)?;
            Ok((rows, units))
        })
        .await?;
    let (rows, next_cursor) = page.finish(rows, |n| n.id);
    let lang = lang_of(&req);
    let items = rows
        .into_iter()
        .map(|row| response(row, &units, lang, state.time_zone))
        .collect::<Result<_, _>>()?;
    Ok(web::Json(NotificationList { items, next_cursor }))
}

/// How many notifications the caller has not marked read.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"unread": 3}))]
pub struct UnreadCount {
    pub unread: i64,
}

/// Count my unread notifications
///
/// For a badge: cheap enough to ask whenever the app comes to the front.
#[utoipa::path(
    tag = "notifications",
    responses(
        (status = 200, description = "The caller's unread count.", body = UnreadCount),
        (status = 401, response = Unauthorized),
    ),
    security(("bearer" = []))
)]
#[get("/notifications/unread-count")]
async fn count_unread_notifications(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<UnreadCount>, ApiError> {
    let user_id = auth.user.id;
    let unread = state
        .db
        .run(move |conn| Ok(store::unread_count(conn, user_id)?))
        .await?;
    Ok(web::Json(UnreadCount { unread }))
}

/// Which notifications to mark read: `ids`, everything `up_to` an id, or
/// both (all of either).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"up_to": 88}))]
pub struct MarkRead {
    /// These (1–100 ids). Ids that are not the caller's, or already read,
    /// are left as they are.
    #[schema(min_items = 1, max_items = 100)]
    pub ids: Option<Vec<i64>>,
    /// Every one with an id up to this (everything seen on the first page:
    /// its first item's id).
    pub up_to: Option<i64>,
}

/// What marking read did.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"marked": 5, "unread": 0}))]
pub struct MarkedRead {
    /// How many were unread and are now read.
    pub marked: usize,
    /// How many remain unread.
    pub unread: i64,
}

/// Mark my notifications read
///
/// One, several (`ids`) or everything up to an id (`up_to`); a body with
/// neither marks nothing. Repeating it is harmless: what is read stays read,
/// with its first `read_at`.
#[utoipa::path(
    tag = "notifications",
    request_body = MarkRead,
    responses(
        (status = 200, description = "How many were marked, and how many remain unread.", body = MarkedRead),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"ids": ["out_of_range"]})))
)]
#[post("/notifications/read")]
async fn mark_notifications_read(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<MarkRead>,
) -> Result<web::Json<MarkedRead>, ApiError> {
    let input = body.0;
    let mut v = Validator::default();
    if input.ids.as_ref().is_some_and(|ids| ids.is_empty() || ids.len() > 100) {
        v.push(
            "ids",
            Invalid::new("out_of_range", "Send 1 to 100 ids.", "ids 须为 1 到 100 个。"),
        );
    }
    v.finish()?;
    let now = state.clock.now_naive();
    let user_id = auth.user.id;
    let (marked, unread) = state
        .db
        .write(move |conn| {
            let mut marked = 0;
            if let Some(ids) = &input.ids {
                marked += store::mark_read(conn, user_id, Marked::These(ids), now)?;
            }
            if let Some(up_to) = input.up_to {
                marked += store::mark_read(conn, user_id, Marked::UpTo(up_to), now)?;
            }
            Ok((marked, store::unread_count(conn, user_id)?))
        })
        .await?;
    Ok(web::Json(MarkedRead { marked, unread }))
}

/// The units `rows` name, as shown.
pub(super) fn units_of(conn: &mut AnyConnection, rows: &[NotificationRow]) -> Result<HashMap<i64, UnitRef>, ApiError> {
    let mut ids: Vec<i64> = rows.iter().filter_map(|n| n.unit_id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(units_by_ids(conn, &ids)?
        .into_iter()
        .map(|u| {
            (
                u.id,
                UnitRef {
                    id: UnitId(u.id),
                    name: u.name,
                    level: u.level,
                },
            )
        })
        .collect())
}

pub(super) fn lang_of(req: &HttpRequest) -> Lang {
    Lang::from_accept_language(req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
}

pub(super) fn response(
    row: NotificationRow,
    units: &HashMap<i64, UnitRef>,
    lang: Lang,
    tz: chrono_tz::Tz,
) -> Result<NotificationResponse, ApiError> {
    let kind = NotificationKind::parse(&row.kind)
        .ok_or_else(|| ApiError::internal(format!("notification {} has an unknown kind", row.id)))?;
    let unit = match row.unit_id {
        // A unit is never deleted while a ticket has been at it.
        Some(id) => Some(
            units
                .get(&id)
                .ok_or_else(|| ApiError::internal(format!("notification {} names unit {id}, which is gone", row.id)))?
                .clone(),
        ),
        None => None,
    };
    let local = |at: NaiveDateTime| utc(at).with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let (title, body) = crate::domain::notify_text::text(
        kind,
        lang,
        row.ticket_id.unwrap_or_default(),
        unit.as_ref().map(|u| u.name.as_str()),
        row.due_at.map(local),
    );
    Ok(NotificationResponse {
        id: row.id,
        kind,
        ticket_id: row.ticket_id.map(TicketId),
        unit,
        due_at: row.due_at.map(utc),
        title,
        body,
        created_at: utc(row.created_at),
        read_at: row.read_at.map(utc),
    })
}
