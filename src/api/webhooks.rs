//! Webhook endpoints: admins register where a community's notifications
//! are posted (push relays, SMS gateways, other systems), pause and delete
//! them, read the delivery log and redeliver. Deliveries are made by
//! `crate::webhooks`; the rules are in `domain::webhooks`.

use actix_web::{HttpResponse, delete, get, http::header, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use super::{JsonBody, PageRequest, QueryParams};
use crate::auth::Auth;
use crate::auth::secrets::random_token;
use crate::clock::utc;
use crate::db::AnyConnection;
use crate::db::queries;
use crate::db::webhooks::{self as store, EndpointChanges, EndpointRow, NewEndpointRow};
use crate::domain::grid::Level;
use crate::domain::notify::NotificationKind;
use crate::domain::people::bounded_text;
use crate::domain::webhooks::{EndpointUrl, MAX_ENDPOINTS_PER_COMMUNITY};
use crate::error::{ApiError, Invalid, Validator};
use crate::policy::Caller;
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(update_webhook)
        .service(delete_webhook)
        .service(super::webhook_deliveries::list_webhook_deliveries)
        .service(super::webhook_deliveries::redeliver_webhook_delivery);
}

/// Whether an endpoint receives deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookState {
    /// Deliveries are sent.
    Active,
    /// An admin paused it: deliveries queue up and go out, in order, when
    /// it is resumed.
    Paused,
    /// It failed for the whole retry window and was disabled (its
    /// community's admins were told); deliveries queue up as when paused.
    Disabled,
}

impl WebhookState {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "paused" => Some(Self::Paused),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// A webhook endpoint. Its secret is shown once, when it is registered.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "community_id": 1, "url": "https://push.example.com/griddesk",
    "kinds": ["arrived", "resolved"], "description": "推送网关", "state": "active",
    "consecutive_failures": 0, "failing_since": null, "disabled_at": null,
    "created_at": "2026-12-02T01:00:00Z", "updated_at": "2026-12-02T01:00:00Z"}))]
pub struct WebhookResponse {
    pub id: i64,
    /// The community (its committee unit) whose notifications it receives.
    pub community_id: i64,
    pub url: String,
    /// The notification kinds it receives; `null`: every kind, those added
    /// in later versions too.
    pub kinds: Option<Vec<NotificationKind>>,
    pub description: String,
    pub state: WebhookState,
    /// Failed attempts since the last delivery that got through.
    pub consecutive_failures: i32,
    /// When the current run of failures began; `null` while it delivers.
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub failing_since: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub disabled_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub updated_at: DateTime<Utc>,
}

/// A newly registered endpoint, with its signing secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "community_id": 1, "url": "https://push.example.com/griddesk",
    "kinds": null, "description": "", "state": "active", "consecutive_failures": 0,
    "failing_since": null, "disabled_at": null, "created_at": "2026-12-02T01:00:00Z",
    "updated_at": "2026-12-02T01:00:00Z", "secret": "whsec_Jx3…"}))]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: WebhookResponse,
    /// The HMAC-SHA256 key of `Griddesk-Signature`. Store it now: it is
    /// never shown again (delete the endpoint and register a new one to
    /// change it).
    pub secret: String,
}

fn response(row: EndpointRow) -> Result<WebhookResponse, ApiError> {
    let state = WebhookState::parse(&row.state)
        .ok_or_else(|| ApiError::internal(format!("webhook {} has state {:?}", row.id, row.state)))?;
    Ok(WebhookResponse {
        id: row.id,
        community_id: row.community_id,
        url: row.url,
        kinds: kinds_from_column(&row.kinds),
        description: row.description,
        state,
        consecutive_failures: row.consecutive_failures,
        failing_since: row.failing_since.map(utc),
        disabled_at: row.disabled_at.map(utc),
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
    })
}

fn kinds_from_column(column: &str) -> Option<Vec<NotificationKind>> {
    if column == "*" {
        return None;
    }
    Some(column.split(',').filter_map(NotificationKind::parse).collect())
}

/// The column's spelling of `kinds`: `*`, or each kind between commas.
fn kinds_column(kinds: Option<&[NotificationKind]>) -> String {
    match kinds {
        None => "*".to_owned(),
        Some(kinds) => {
            let mut column = String::from(",");
            for kind in NotificationKind::ALL {
                if kinds.contains(&kind) {
                    column.push_str(kind.as_str());
                    column.push(',');
                }
            }
            column
        }
    }
}

fn check_kinds(v: &mut Validator, kinds: &[NotificationKind]) {
    if kinds.is_empty() {
        v.push(
            "kinds",
            Invalid::new(
                "empty",
                "Name at least one kind, or leave `kinds` out for every kind.",
                "请至少选择一种通知类型，或不填表示全部类型。",
            ),
        );
    }
}

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"community_id": 0, "url": "https://hooks.example.com/griddesk",
    "kinds": ["arrived", "resolved", "sign_for_due_soon"], "description": "（用途说明）"}))]
pub struct CreateWebhook {
    /// A community (committee unit) the caller manages.
    pub community_id: i64,
    /// Where deliveries are posted: `https`, a public address, no
    /// credentials, at most 2048 characters.
    #[schema(max_length = 2048, pattern = r"^[^\u0000]*$")]
    pub url: String,
    /// The notification kinds to receive; leave out for every kind.
    /// (`webhook_disabled` is told to admins in griddesk and never posted.)
    #[schema(min_items = 1)]
    pub kinds: Option<Vec<NotificationKind>>,
    /// What it is for: one line of up to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub description: Option<String>,
}

/// Register a webhook endpoint
///
/// Admins, for a community they manage (at most 20 endpoints each). From
/// now on every notification of a chosen kind in the community is posted
/// to the URL as JSON (`WebhookPayload`), at least once, each ticket's in
/// order, signed:
///
/// - `Griddesk-Delivery`: the delivery id, the same on every retry: drop
///   repeats by it.
/// - `Griddesk-Event`: the notification kind.
/// - `Griddesk-Signature: t=<unix seconds>,v1=<hex>`: HMAC-SHA256 with the
///   secret over `<t>.<raw body>`. Recompute it, compare in constant time,
///   and refuse a `t` more than 5 minutes from your clock (a replay).
///
/// A 2xx answer delivers; anything else (redirects are not followed, the
/// attempt times out after 10 s) is retried with exponential backoff and
/// jitter (30 s, 1 min, … up to an hour apart) for 24 hours, then given up.
/// An endpoint failing for 24 hours is disabled and the community's admins
/// are told (`webhook_disabled`). The URL must be `https` and may not
/// resolve to a loopback, private, link-local or otherwise internal address.
/// The body names who was told (`recipients`, with their devices): register
/// only systems trusted with that, as you are.
#[utoipa::path(
    tag = "webhooks",
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Registered; the secret is in this answer only.", body = WebhookCreated,
            headers(("Location" = String, description = "URL of the endpoint"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["too_many_webhooks"]})),
        ("x-field-codes" = json!({"community_id": ["not_found"],
            "url": ["invalid_url", "https_required", "address_not_allowed", "too_long"],
            "kinds": ["empty"], "description": ["required", "too_long", "control_characters"]}))
    )
)]
#[post("/webhooks")]
async fn create_webhook(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let input = body.0;
    let mut v = Validator::default();
    let url = v.check("url", EndpointUrl::parse(&input.url, state.webhook_reach));
    if let Some(kinds) = &input.kinds {
        check_kinds(&mut v, kinds);
    }
    let description = match &input.description {
        Some(raw) => v.check("description", bounded_text(raw, 200)),
        None => Some(String::new()),
    };
    v.finish()?;
    let (Some(url), Some(description)) = (url, description) else {
        return Err(ApiError::Internal);
    };
    let now = state.clock.now_naive();
    let secret = format!("whsec_{}", random_token(32));
    let row = NewEndpointRow {
        community_id: input.community_id,
        url: url.as_str().to_owned(),
        kinds: kinds_column(input.kinds.as_deref()),
        description,
        secret: secret.clone(),
        state: "active".to_owned(),
        created_by: auth.user.id,
        created_at: now,
        updated_at: now,
    };
    let caller = auth.caller;
    let created = state
        .db
        .write(move |conn| {
            let community = queries::lock_unit(conn, row.community_id)?;
            if !community.is_some_and(|c| c.level == Level::Committee && caller.manages(&c.path)) {
                return Err(ApiError::field(
                    "community_id",
                    Invalid::new(
                        "not_found",
                        "No community you manage has this id.",
                        "您管理的社区中没有此编号。",
                    ),
                ));
            }
            if store::count_endpoints(conn, row.community_id)? >= MAX_ENDPOINTS_PER_COMMUNITY {
                return Err(ApiError::conflict(
                    "too_many_webhooks",
                    "The community has 20 webhook endpoints: delete one first.",
                    "该社区已有 20 个回调地址，请先删除一个。",
                ));
            }
            Ok(store::insert_endpoint(conn, &row)?)
        })
        .await?;
    let location = format!("/api/v1/webhooks/{}", created.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(WebhookCreated {
            webhook: response(created)?,
            secret,
        }))
}

/// A page of endpoints.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": null}))]
pub struct WebhookList {
    pub items: Vec<WebhookResponse>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhookQuery {
    /// Only this community's.
    pub community_id: Option<i64>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[^\u0000]*$")]
    pub cursor: Option<String>,
}

/// The communities a caller manages: `None` for every one (a super-admin).
fn managed_communities(caller: &Caller) -> Option<Vec<i64>> {
    if caller.is_superadmin() {
        return None;
    }
    Some(
        caller
            .posts
            .iter()
            .filter(|p| p.level == Level::Committee)
            .map(|p| p.unit_id.0)
            .collect(),
    )
}

/// List webhook endpoints
///
/// Admins: the endpoints of the communities they manage, oldest first.
#[utoipa::path(
    tag = "webhooks",
    params(WebhookQuery),
    responses(
        (status = 200, description = "A page of endpoints.", body = WebhookList),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"limit": ["out_of_range"], "cursor": ["invalid_cursor"]})))
)]
#[get("/webhooks")]
async fn list_webhooks(
    state: web::Data<AppState>,
    auth: Auth,
    query: QueryParams<WebhookQuery>,
) -> Result<web::Json<WebhookList>, ApiError> {
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let query = query.0;
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let caller = auth.caller;
    let rows = state
        .db
        .run(move |conn| {
            let mut communities = managed_communities(&caller);
            if let Some(only) = query.community_id {
                communities = Some(match communities {
                    None => vec![only],
                    Some(mine) => mine.into_iter().filter(|c| *c == only).collect(),
                });
            }
            Ok(store::endpoints_page(
                conn,
                communities.as_deref(),
                page.after_id,
                page.fetch(),
            )?)
        })
        .await?;
    let (rows, next_cursor) = page.finish(rows, |e| e.id);
    let items = rows.into_iter().map(response).collect::<Result<_, _>>()?;
    Ok(web::Json(WebhookList { items, next_cursor }))
}

/// The endpoint `id`, if the caller manages its community; else 404.
pub(super) fn managed_endpoint(conn: &mut AnyConnection, caller: &Caller, id: i64) -> Result<EndpointRow, ApiError> {
    let endpoint = store::find_endpoint(conn, id)?.ok_or(ApiError::NotFound)?;
    let community = queries::find_unit(conn, endpoint.community_id)?.ok_or(ApiError::NotFound)?;
    if caller.manages(&community.path) {
        Ok(endpoint)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Read a webhook endpoint
///
/// Admins of its community. The secret is not shown again.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "The endpoint.", body = WebhookResponse),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks/{id}")]
async fn get_webhook(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
) -> Result<web::Json<WebhookResponse>, ApiError> {
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let id = id.into_inner();
    let caller = auth.caller;
    let row = state.db.run(move |conn| managed_endpoint(conn, &caller, id)).await?;
    Ok(web::Json(response(row)?))
}

/// Reads a field that may be `null` apart from one left out: `Some(None)`
/// for `null`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// What to change of an endpoint; fields left out stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"paused": false}))]
pub struct UpdateWebhook {
    /// A new URL, under the same rules as when registering.
    #[schema(max_length = 2048, pattern = r"^[^\u0000]*$")]
    pub url: Option<String>,
    /// The kinds to receive; `null` for every kind.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<NotificationKind>>, min_items = 1)]
    pub kinds: Option<Option<Vec<NotificationKind>>>,
    /// One line of up to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub description: Option<String>,
    /// `true` pauses it; `false` resumes a paused or disabled one (its
    /// run of failures starts again from 0) and sends what queued up.
    pub paused: Option<bool>,
}

/// Change, pause or resume a webhook endpoint
///
/// Admins of its community. Resuming a disabled endpoint sends the
/// deliveries that queued up while it was off, each ticket's in order;
/// those older than the retry window get one more attempt each.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "Endpoint id")),
    request_body = UpdateWebhook,
    responses(
        (status = 200, description = "The endpoint as changed.", body = WebhookResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({
        "url": ["invalid_url", "https_required", "address_not_allowed", "too_long"],
        "kinds": ["empty"], "description": ["required", "too_long", "control_characters"]})))
)]
#[patch("/webhooks/{id}")]
async fn update_webhook(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<UpdateWebhook>,
) -> Result<web::Json<WebhookResponse>, ApiError> {
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let input = body.0;
    let mut v = Validator::default();
    let url = match &input.url {
        Some(raw) => v
            .check("url", EndpointUrl::parse(raw, state.webhook_reach))
            .map(|u| u.as_str().to_owned()),
        None => None,
    };
    if let Some(Some(kinds)) = &input.kinds {
        check_kinds(&mut v, kinds);
    }
    let description = match &input.description {
        Some(raw) => v.check("description", bounded_text(raw, 200)),
        None => None,
    };
    v.finish()?;
    let now = state.clock.now_naive();
    let id = id.into_inner();
    let caller = auth.caller;
    let row = state
        .db
        .write(move |conn| {
            let endpoint = managed_endpoint(conn, &caller, id)?;
            let mut changes = EndpointChanges {
                url,
                kinds: input.kinds.as_ref().map(|k| kinds_column(k.as_deref())),
                description,
                updated_at: Some(now),
                ..EndpointChanges::default()
            };
            match input.paused {
                Some(true) if endpoint.state == "active" => {
                    changes.state = Some("paused".into());
                    store::park(conn, id)?;
                }
                Some(false) if endpoint.state != "active" => {
                    changes.state = Some("active".into());
                    changes.consecutive_failures = Some(0);
                    changes.failing_since = Some(None);
                    changes.disabled_at = Some(None);
                    store::unpark(conn, id, now)?;
                }
                _ => {}
            }
            store::update_endpoint(conn, id, &changes)?;
            store::find_endpoint(conn, id)?.ok_or(ApiError::NotFound)
        })
        .await?;
    Ok(web::Json(response(row)?))
}

/// Delete a webhook endpoint
///
/// Admins of its community. Its queued deliveries and log go with it.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "Endpoint id")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[delete("/webhooks/{id}")]
async fn delete_webhook(state: web::Data<AppState>, auth: Auth, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let id = id.into_inner();
    let caller = auth.caller;
    state
        .db
        .write(move |conn| {
            managed_endpoint(conn, &caller, id)?;
            store::delete_endpoint(conn, id)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
