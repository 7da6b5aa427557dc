//! The category catalogue: what residents can file, where it enters the
//! grid and how long each step may take.

use actix_web::{HttpResponse, get, http::header, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use super::{JsonBody, QueryParams};
use crate::auth::Auth;
use crate::clock::utc;
use crate::db::models::{CategoryRow, NewCategoryRow};
use crate::db::tickets::{self as db, CategoryChanges};
use crate::domain::grid::Level;
use crate::domain::people::{TEXT_CODES, bounded_text};
use crate::domain::ticket::Kind;
use crate::error::{ApiError, Invalid, Validator};
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(list_categories)
        .service(create_category)
        .service(update_category);
}

/// A category of complaint or dispute.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 4, "code": "noise", "name_zh": "噪音扰民", "name_en": "Noise", "kind": "complaint",
    "entry_level": "household", "accept_hours": 24, "resolve_hours": 72, "active": true,
    "created_at": "2026-11-28T01:00:00Z", "updated_at": "2026-11-28T01:00:00Z"}))]
pub struct CategoryResponse {
    pub id: i64,
    /// Stable code, used when filing (`category`).
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub kind: Kind,
    /// The lowest level a ticket of this category enters at.
    pub entry_level: Level,
    /// Hours a unit has to sign for a ticket (签收时限).
    pub accept_hours: i32,
    /// Hours a unit has to resolve a ticket (办结时限).
    pub resolve_hours: i32,
    /// Inactive categories cannot be filed under.
    pub active: bool,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub updated_at: DateTime<Utc>,
}

impl CategoryResponse {
    pub fn new(row: CategoryRow) -> Result<Self, ApiError> {
        Ok(Self {
            kind: row.kind,
            entry_level: row.entry_level,
            id: row.id,
            code: row.code,
            name_zh: row.name_zh,
            name_en: row.name_en,
            accept_hours: row.accept_hours,
            resolve_hours: row.resolve_hours,
            active: row.active,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CategoryQuery {
    /// Only categories of this kind.
    pub kind: Option<Kind>,
    /// Super-admins: include inactive categories too.
    pub include_inactive: Option<bool>,
}

/// List categories
///
/// The catalogue residents file under, ordered by id. Inactive categories are
/// listed only for super-admins who ask for them.
#[utoipa::path(
    tag = "categories",
    params(CategoryQuery),
    responses(
        (status = 200, description = "The categories.", body = Vec<CategoryResponse>),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/categories")]
async fn list_categories(
    state: web::Data<AppState>,
    auth: Auth,
    query: QueryParams<CategoryQuery>,
) -> Result<web::Json<Vec<CategoryResponse>>, ApiError> {
    let include_inactive = query.0.include_inactive.unwrap_or(false) && auth.caller.is_superadmin();
    let kind = query.0.kind;
    let rows = state
        .db
        .run(move |conn| Ok(db::list_categories(conn, include_inactive)?))
        .await?;
    let items = rows
        .into_iter()
        .filter(|r| kind.is_none_or(|k| r.kind == k))
        .map(CategoryResponse::new)
        .collect::<Result<_, _>>()?;
    Ok(web::Json(items))
}

/// A new category.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "（编码）", "name_zh": "（中文名称）", "name_en": "(English name)", "kind": "complaint",
    "entry_level": "building", "accept_hours": 24, "resolve_hours": 72}))]
pub struct CreateCategory {
    /// 2–32 characters of `a-z`, `0-9` and `_`.
    #[schema(min_length = 2, max_length = 32, pattern = r"^[a-z0-9_]{2,32}$")]
    pub code: String,
    /// 1–50 characters.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub name_zh: String,
    /// 1–50 characters.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub name_en: String,
    pub kind: Kind,
    /// Disputes enter at `building` level or above.
    pub entry_level: Level,
    /// 1–8760.
    #[schema(minimum = 1, maximum = 8760)]
    pub accept_hours: i32,
    /// 1–8760, not less than `accept_hours`.
    #[schema(minimum = 1, maximum = 8760)]
    pub resolve_hours: i32,
    /// Default `true`.
    pub active: Option<bool>,
}

/// Changes to a category; `code` and `kind` never change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct UpdateCategory {
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub name_zh: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub name_en: Option<String>,
    pub entry_level: Option<Level>,
    #[schema(minimum = 1, maximum = 8760)]
    pub accept_hours: Option<i32>,
    #[schema(minimum = 1, maximum = 8760)]
    pub resolve_hours: Option<i32>,
    pub active: Option<bool>,
}

fn category_code(raw: &str) -> Result<String, Invalid> {
    let ok = (2..=32).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Invalid::new(
            "invalid_code",
            "Use 2 to 32 characters of a-z, 0-9 and '_'.",
            "编码须为 2 到 32 位小写字母、数字或“_”。",
        ))
    }
}

fn hours(value: i32) -> Result<i32, Invalid> {
    if (1..=8760).contains(&value) {
        Ok(value)
    } else {
        Err(Invalid::new(
            "out_of_range",
            "Between 1 and 8760 hours.",
            "须在 1 到 8760 小时之间。",
        ))
    }
}

fn check_deadlines(v: &mut Validator, kind: Kind, entry_level: Level, accept: i32, resolve: i32) {
    if kind == Kind::Dispute && entry_level == Level::Household {
        v.push(
            "entry_level",
            Invalid::new(
                "dispute_below_building",
                "Disputes enter at building level or above.",
                "矛盾纠纷须从楼栋或更高层级受理。",
            ),
        );
    }
    if resolve < accept {
        v.push(
            "resolve_hours",
            Invalid::new(
                "shorter_than_accept",
                "The time to resolve cannot be shorter than the time to sign for.",
                "办结时限不能短于签收时限。",
            ),
        );
    }
}

/// Create a category
///
/// Super-admins only: the catalogue is shared by every community of the
/// deployment.
#[utoipa::path(
    tag = "categories",
    request_body = CreateCategory,
    responses(
        (status = 201, description = "The category was created.", body = CategoryResponse,
            headers(("Location" = String, description = "URL of the category list"))),
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
        ("x-problem-codes" = json!({"409": ["category_code_taken"]})),
        ("x-field-codes" = json!({"code": ["invalid_code"], "name_zh": TEXT_CODES, "name_en": TEXT_CODES, "accept_hours": ["out_of_range"],
            "resolve_hours": ["out_of_range", "shorter_than_accept"], "entry_level": ["dispute_below_building"]}))
    )
)]
#[post("/categories")]
async fn create_category(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<CreateCategory>,
) -> Result<HttpResponse, ApiError> {
    if !auth.caller.is_superadmin() {
        return Err(ApiError::Forbidden);
    }
    let input = body.0;
    let mut v = Validator::default();
    let code = v.check("code", category_code(&input.code));
    let name_zh = v.check("name_zh", bounded_text(&input.name_zh, 50));
    let name_en = v.check("name_en", bounded_text(&input.name_en, 50));
    let accept = v.check("accept_hours", hours(input.accept_hours));
    let resolve = v.check("resolve_hours", hours(input.resolve_hours));
    if let (Some(accept), Some(resolve)) = (accept, resolve) {
        check_deadlines(&mut v, input.kind, input.entry_level, accept, resolve);
    }
    v.finish()?;
    let (Some(code), Some(name_zh), Some(name_en), Some(accept), Some(resolve)) =
        (code, name_zh, name_en, accept, resolve)
    else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let now = state.clock.now_naive();
    let row = state
        .db
        .write(move |conn| {
            db::insert_category(
                conn,
                &NewCategoryRow {
                    code: &code,
                    name_zh: &name_zh,
                    name_en: &name_en,
                    kind: input.kind.as_str(),
                    entry_level: input.entry_level.as_str(),
                    accept_hours: accept,
                    resolve_hours: resolve,
                    active: input.active.unwrap_or(true),
                    created_at: now,
                    updated_at: now,
                },
            )
        })
        .await?;
    // Readers here see it at once; other replicas within the catalogue's TTL.
    state.caches.categories.forget();
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/api/v1/categories"))
        .json(CategoryResponse::new(row)?))
}

/// Update a category
///
/// Super-admins only. Changed deadlines apply to tickets from their next
/// arrival at a unit on.
#[utoipa::path(
    tag = "categories",
    params(("id" = i64, Path, description = "Category id")),
    request_body = UpdateCategory,
    responses(
        (status = 200, description = "The updated category.", body = CategoryResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"name_zh": TEXT_CODES, "name_en": TEXT_CODES, "accept_hours": ["out_of_range"],
        "resolve_hours": ["out_of_range", "shorter_than_accept"], "entry_level": ["dispute_below_building"]})))
)]
#[patch("/categories/{id}")]
async fn update_category(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<UpdateCategory>,
) -> Result<web::Json<CategoryResponse>, ApiError> {
    if !auth.caller.is_superadmin() {
        return Err(ApiError::Forbidden);
    }
    let id = id.into_inner();
    let input = body.0;
    let mut v = Validator::default();
    let name_zh = input
        .name_zh
        .as_deref()
        .and_then(|n| v.check("name_zh", bounded_text(n, 50)));
    let name_en = input
        .name_en
        .as_deref()
        .and_then(|n| v.check("name_en", bounded_text(n, 50)));
    let accept = input.accept_hours.and_then(|h| v.check("accept_hours", hours(h)));
    let resolve = input.resolve_hours.and_then(|h| v.check("resolve_hours", hours(h)));
    v.finish()?;
    let now = state.clock.now_naive();
    let row = state
        .db
        .write(move |conn| {
            let current = db::find_category(conn, id)?.ok_or(ApiError::NotFound)?;
            let kind = current.kind;
            let entry_level = input.entry_level.unwrap_or(current.entry_level);
            let mut v = Validator::default();
            check_deadlines(
                &mut v,
                kind,
                entry_level,
                accept.unwrap_or(current.accept_hours),
                resolve.unwrap_or(current.resolve_hours),
            );
            v.finish()?;
            let changes = CategoryChanges {
                name_zh,
                name_en,
                entry_level: input.entry_level.map(|l| l.as_str().to_owned()),
                accept_hours: accept,
                resolve_hours: resolve,
                active: input.active,
                updated_at: Some(now),
            };
            Ok(db::update_category(conn, id, &changes)?)
        })
        .await?;
    state.caches.categories.forget();
    Ok(web::Json(CategoryResponse::new(row)?))
}
