//! The grid: committees, branches, buildings and households.

use actix_web::{HttpResponse, delete, get, http::header, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use super::{JsonBody, PageRequest, QueryParams, search_text};
use crate::auth::{Auth, MaybeAuth};
use crate::clock::utc;
use crate::db::models::UnitRow;
use crate::db::queries::{self, Households, NewUnit, UnitChanges, UnitFilter};
use crate::db::{AnyConnection, write_audit};
use crate::domain::grid::{Level, check_parent, child_path, community_of};
use crate::domain::ids::UnitId;
use crate::domain::people::{TEXT_CODES, bounded_text};
use crate::error::{ApiError, Invalid, Text, Validator};
use crate::policy::Caller;
use crate::policy::audit::AuditObject;
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(create_unit)
        .service(list_units)
        .service(get_unit)
        .service(get_unit_tree)
        .service(update_unit)
        .service(delete_unit);
}

/// A unit of the grid. Anonymous callers see `id`, `parent_id`, `level` and
/// `name` only; signed-in callers also `code` and the timestamps.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 4, "parent_id": 1, "level": "branch", "name": "军门小区党支部", "code": "JM-B01",
    "created_at": "2026-11-28T01:00:00Z", "updated_at": "2026-11-28T01:00:00Z"}))]
pub struct UnitResponse {
    pub id: UnitId,
    /// The unit one level up; `null` for a committee.
    pub parent_id: Option<UnitId>,
    pub level: Level,
    pub name: String,
    /// Administrative code, unique across the deployment (absent when unset or for anonymous callers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "crate::api::rfc3339::optional_to_json")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl UnitResponse {
    pub fn new(row: UnitRow, full: bool) -> Result<Self, ApiError> {
        Ok(Self {
            id: UnitId(row.id),
            parent_id: row.parent_id.map(UnitId),
            level: row.level,
            name: row.name,
            code: if full { row.code } else { None },
            created_at: full.then(|| utc(row.created_at)),
            updated_at: full.then(|| utc(row.updated_at)),
        })
    }
}

/// A page of units.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [
    {"id": 1, "parent_id": null, "level": "committee", "name": "军门社区党委"},
    {"id": 2, "parent_id": 1, "level": "branch", "name": "军门小区党支部"},
    {"id": 3, "parent_id": 2, "level": "building", "name": "1号楼"}
], "next_cursor": "aWQ6Mw"}))]
pub struct UnitList {
    pub items: Vec<UnitResponse>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A unit with everything below it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 1, "parent_id": null, "level": "committee", "name": "军门社区党委", "code": "JM",
    "children": [{"id": 4, "parent_id": 1, "level": "branch", "name": "军门小区党支部", "code": "JM-B01", "children": []}]}))]
pub struct UnitNode {
    pub id: UnitId,
    pub parent_id: Option<UnitId>,
    pub level: Level,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[schema(no_recursion)]
    pub children: Vec<UnitNode>,
}

/// A new unit. A committee has no `parent_id`; every other level needs a
/// parent exactly one level up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"level": "building", "name": "（在此填写名称）", "parent_id": 0}))]
pub struct CreateUnit {
    pub level: Level,
    /// 1–100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub name: String,
    /// Optional administrative code: 1–32 letters, digits, `-`, `_` or `.`; unique across the deployment.
    #[schema(min_length = 1, max_length = 32, pattern = r"^[A-Za-z0-9_.-]{1,32}$")]
    pub code: Option<String>,
    pub parent_id: Option<UnitId>,
}

/// Changes to a unit; absent fields stay as they are. Moving a unit (a new
/// `parent_id`) is refused while it has child units, posts, residents or tickets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct UpdateUnit {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub name: Option<String>,
    /// `null` removes the code.
    #[serde(default, deserialize_with = "super::users::double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 32, pattern = r"^[A-Za-z0-9_.-]{1,32}$")]
    pub code: Option<Option<String>>,
    pub parent_id: Option<UnitId>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitQuery {
    /// Only the children of this unit.
    pub parent_id: Option<i64>,
    /// Only units of this level (`household` needs a token).
    pub level: Option<Level>,
    /// Text in the name or code (case-insensitive for Latin letters).
    #[param(pattern = r"^[^\u0000]*$")]
    pub q: Option<String>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[^\u0000]*$")]
    pub cursor: Option<String>,
}

fn unit_name(raw: &str) -> Result<String, Invalid> {
    bounded_text(raw, 100)
}

fn unit_code(raw: &str) -> Result<String, Invalid> {
    let code = raw.trim();
    let ok = (1..=32).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(code.to_owned())
    } else {
        Err(Invalid::new(
            "invalid_code",
            "Use 1 to 32 letters, digits, '-', '_' or '.'.",
            "编码须为 1 到 32 位字母、数字、“-”、“_”或“.”。",
        ))
    }
}

fn parent_not_found() -> Invalid {
    Invalid::new("not_found", "No unit has this id.", "没有此编号的单元。")
}

fn unit_in_use(usage: queries::UnitUsage) -> ApiError {
    let queries::UnitUsage {
        children,
        posts,
        residents,
        tickets,
        audit_entries,
    } = usage;
    ApiError::Conflict {
        code: "unit_in_use",
        detail: Text::owned(
            format!(
                "The unit still has {children} child units, {posts} posts, {residents} residents, {tickets} tickets and {audit_entries} audit entries."
            ),
            format!(
                "该单元仍有 {children} 个下级单元、{posts} 个岗位、{residents} 位居民、{tickets} 件诉求和 {audit_entries} 条审计记录。"
            ),
        ),
    }
}

/// Create a unit
///
/// Admins create branches, buildings and households inside the communities
/// they manage; only a super-admin creates a committee (a new community).
#[utoipa::path(
    tag = "units",
    request_body = CreateUnit,
    responses(
        (status = 201, description = "The unit was created.", body = UnitResponse,
            headers(("Location" = String, description = "URL of the new unit"))),
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
        ("x-problem-codes" = json!({"409": ["unit_code_taken"]})),
        ("x-field-codes" = json!({"name": TEXT_CODES, "code": ["invalid_code"],
            "parent_id": ["required", "not_found", "committee_has_no_parent", "wrong_parent_level"]}))
    )
)]
#[post("/units")]
async fn create_unit(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<CreateUnit>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let mut v = Validator::default();
    let name = v.check("name", unit_name(&input.name));
    let code = match input.code.as_deref() {
        Some(raw) => v.check("code", unit_code(raw)).map(Some),
        None => Some(None),
    };
    if input.level == Level::Committee && input.parent_id.is_some() {
        v.check("parent_id", check_parent(Level::Committee, Some(Level::Committee)));
    }
    if input.level != Level::Committee && input.parent_id.is_none() {
        v.check("parent_id", check_parent(input.level, None));
    }
    v.finish()?;
    let (Some(name), Some(code)) = (name, code) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    if input.level == Level::Committee && !auth.caller.is_superadmin() {
        return Err(ApiError::Forbidden);
    }

    let now = state.clock.now_naive();
    let caller = auth.caller;
    let row = state
        .db
        .write(move |conn| {
            let parent = match input.parent_id {
                Some(id) => {
                    let parent = queries::lock_unit(conn, id.0)?
                        .ok_or_else(|| ApiError::field("parent_id", parent_not_found()))?;
                    check_parent(input.level, Some(parent.level)).map_err(|e| ApiError::field("parent_id", e))?;
                    if !caller.manages(&parent.path) {
                        return Err(ApiError::Forbidden);
                    }
                    Some(parent)
                }
                None => None,
            };
            let row = queries::insert_unit(
                conn,
                NewUnit {
                    parent: parent.as_ref(),
                    level: input.level.as_str(),
                    name: &name,
                    code: code.as_deref(),
                },
                now,
            )?;
            write_audit::created(AuditObject::Unit(row.id));
            Ok(row)
        })
        .await?;
    let location = format!("/api/v1/units/{}", row.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(UnitResponse::new(row, true)?))
}

/// List units
///
/// Anyone may list committees, branches and buildings (names only), e.g. for
/// the building picker of registration. Households, codes and timestamps
/// need a token. Ordered by id.
#[utoipa::path(
    tag = "units",
    params(UnitQuery),
    responses(
        (status = 200, description = "A page of units.", body = UnitList),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
    ),
    security((), ("bearer" = [])),
    extensions(("x-field-codes" = json!({"q": ["too_long"]})))
)]
#[get("/units")]
async fn list_units(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    query: QueryParams<UnitQuery>,
) -> Result<web::Json<UnitList>, ApiError> {
    let query = query.0;
    let mut v = Validator::default();
    let q = search_text("q", query.q.as_deref(), &mut v);
    let page = PageRequest::parse(query.limit, query.cursor.as_deref());
    v.finish()?;
    let page = page?;
    let full = auth.0.is_some();
    if !full && query.level == Some(Level::Household) {
        return Ok(web::Json(UnitList {
            items: Vec::new(),
            next_cursor: None,
        }));
    }
    let rows = state
        .db
        .run(move |conn| {
            let filter = UnitFilter {
                parent_id: query.parent_id,
                level: query.level.map(Level::as_str),
                q: q.as_deref(),
                households: household_scope(conn, auth.0.as_ref())?,
                after_id: page.after_id,
                limit: page.fetch(),
            };
            Ok(queries::list_units(conn, &filter)?)
        })
        .await?;
    let (rows, next_cursor) = page.finish(rows, |r| r.id);
    let items = rows
        .into_iter()
        .map(|r| UnitResponse::new(r, full))
        .collect::<Result<_, _>>()?;
    Ok(web::Json(UnitList { items, next_cursor }))
}

/// The households a caller sees: super-admins all; staff and admins those of
/// the communities they hold posts in; residents those of their home's
/// community; anonymous callers none.
pub(crate) fn household_scope(conn: &mut AnyConnection, auth: Option<&Auth>) -> Result<Households, ApiError> {
    let Some(auth) = auth else {
        return Ok(Households::Hidden);
    };
    if auth.caller.is_superadmin() {
        return Ok(Households::All);
    }
    let mut paths: Vec<String> = auth.caller.posts.iter().map(|p| p.path.clone()).collect();
    if let Some(building) = auth.user.building_id
        && let Some(home) = queries::find_unit(conn, building)?
    {
        paths.push(home.path);
    }
    let mut roots: Vec<String> = paths
        .iter()
        .filter_map(|p| community_of(p))
        .map(|c| format!("/{c}/"))
        .collect();
    roots.sort();
    roots.dedup();
    Ok(Households::Within(roots))
}

/// Why the caller may not manage a unit: 404 when they may not even see it
/// (a household of another community), 403 otherwise.
pub(crate) fn not_managed(caller: &Caller, unit: &UnitRow) -> ApiError {
    let community = community_of(&unit.path);
    let same_community = caller.posts.iter().any(|p| community_of(&p.path) == community);
    if unit.level == Level::Household && !same_community && !caller.is_superadmin() {
        ApiError::NotFound
    } else {
        ApiError::Forbidden
    }
}

/// Loads a unit the caller may see, else 404.
pub(crate) fn visible_unit_in(conn: &mut AnyConnection, auth: Option<&Auth>, id: i64) -> Result<UnitRow, ApiError> {
    let row = queries::find_unit(conn, id)?.ok_or(ApiError::NotFound)?;
    if household_scope(conn, auth)?.include(&row) {
        Ok(row)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Get a unit
///
/// Anyone may read committees, branches and buildings (names only);
/// households, codes and timestamps need a token.
#[utoipa::path(
    tag = "units",
    params(("id" = i64, Path, description = "Unit id")),
    responses(
        (status = 200, description = "The unit.", body = UnitResponse),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
    security((), ("bearer" = []))
)]
#[get("/units/{id}")]
async fn get_unit(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    id: web::Path<i64>,
) -> Result<web::Json<UnitResponse>, ApiError> {
    let full = auth.0.is_some();
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| visible_unit_in(conn, auth.0.as_ref(), id))
        .await?;
    Ok(web::Json(UnitResponse::new(row, full)?))
}

/// Get a unit's subtree
///
/// The unit and everything below it, nested, in one response (households
/// only for signed-in callers).
#[utoipa::path(
    tag = "units",
    params(("id" = i64, Path, description = "Unit id")),
    responses(
        (status = 200, description = "The subtree rooted at the unit.", body = UnitNode),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
    security((), ("bearer" = []))
)]
#[get("/units/{id}/tree")]
async fn get_unit_tree(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    id: web::Path<i64>,
) -> Result<web::Json<UnitNode>, ApiError> {
    let full = auth.0.is_some();
    let id = id.into_inner();
    let (root, rows) = state
        .db
        .run(move |conn| {
            let root = visible_unit_in(conn, auth.0.as_ref(), id)?;
            let scope = household_scope(conn, auth.0.as_ref())?;
            let rows = queries::subtree(conn, &root.path, false)?
                .into_iter()
                .filter(|u| scope.include(u))
                .collect::<Vec<_>>();
            Ok((root, rows))
        })
        .await?;
    build_tree(root.id, rows, full)
}

/// Nests rows (a whole subtree, in any order) under the root.
fn build_tree(root_id: i64, rows: Vec<UnitRow>, full: bool) -> Result<web::Json<UnitNode>, ApiError> {
    use std::collections::HashMap;
    let mut children: HashMap<i64, Vec<UnitRow>> = HashMap::new();
    let mut root = None;
    for row in rows {
        if row.id == root_id {
            root = Some(row);
        } else if let Some(parent) = row.parent_id {
            children.entry(parent).or_default().push(row);
        }
    }
    fn node(row: UnitRow, children: &mut HashMap<i64, Vec<UnitRow>>, full: bool) -> Result<UnitNode, ApiError> {
        let level = row.level;
        let mut kids = children.remove(&row.id).unwrap_or_default();
        kids.sort_by_key(|k| k.id);
        Ok(UnitNode {
            id: UnitId(row.id),
            parent_id: row.parent_id.map(UnitId),
            level,
            name: row.name,
            code: if full { row.code } else { None },
            children: kids
                .into_iter()
                .map(|k| node(k, children, full))
                .collect::<Result<_, _>>()?,
        })
    }
    let root = root.ok_or(ApiError::NotFound)?;
    Ok(web::Json(node(root, &mut children, full)?))
}

/// Update a unit
///
/// Renames a unit, sets or clears its code, or moves it under another parent
/// of the level above. Admins only, inside their communities.
#[utoipa::path(
    tag = "units",
    params(("id" = i64, Path, description = "Unit id")),
    request_body = UpdateUnit,
    responses(
        (status = 200, description = "The updated unit.", body = UnitResponse),
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
        ("x-problem-codes" = json!({"409": ["unit_code_taken", "unit_in_use"]})),
        ("x-field-codes" = json!({"name": TEXT_CODES, "code": ["invalid_code"],
            "parent_id": ["not_found", "committee_has_no_parent", "wrong_parent_level"]}))
    )
)]
#[patch("/units/{id}")]
async fn update_unit(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<UpdateUnit>,
) -> Result<web::Json<UnitResponse>, ApiError> {
    let id = id.into_inner();
    let input = body.0;
    let mut v = Validator::default();
    let name = input.name.as_deref().and_then(|n| v.check("name", unit_name(n)));
    let code = match &input.code {
        Some(Some(raw)) => v.check("code", unit_code(raw)).map(|c| Some(Some(c))),
        Some(None) => Some(Some(None)),
        None => Some(None),
    };
    v.finish()?;
    let code = code.flatten();
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let row = state
        .db
        .write(move |conn| {
            let unit = queries::lock_unit(conn, id)?.ok_or(ApiError::NotFound)?;
            if !caller.manages(&unit.path) {
                return Err(not_managed(&caller, &unit));
            }
            let mut changes = UnitChanges {
                name,
                code,
                updated_at: Some(now),
                ..Default::default()
            };
            if let Some(parent_id) = input.parent_id.filter(|p| Some(p.0) != unit.parent_id) {
                let level = unit.level;
                let parent = queries::lock_unit(conn, parent_id.0)?
                    .ok_or_else(|| ApiError::field("parent_id", parent_not_found()))?;
                check_parent(level, Some(parent.level)).map_err(|e| ApiError::field("parent_id", e))?;
                if !caller.manages(&parent.path) {
                    return Err(ApiError::Forbidden);
                }
                let usage = queries::unit_usage(conn, unit.id)?;
                if !usage.is_empty() {
                    return Err(unit_in_use(usage));
                }
                changes.parent_id = Some(Some(parent.id));
                changes.path = Some(child_path(Some(&parent.path), unit.id));
            }
            queries::update_unit(conn, unit.id, &changes)
        })
        .await?;
    Ok(web::Json(UnitResponse::new(row, true)?))
}

/// Delete a unit
///
/// Refused with 409 `unit_in_use` while the unit has child units, posts,
/// residents or tickets (a ticket's history names every unit it was at), or,
/// for a community, entries in the audit trail (the trail is kept).
/// Admins only, inside their communities.
#[utoipa::path(
    tag = "units",
    params(("id" = i64, Path, description = "Unit id")),
    responses(
        (status = 204, description = "The unit was deleted."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
    extensions(("x-problem-codes" = json!({"409": ["unit_in_use"]})))
)]
#[delete("/units/{id}")]
async fn delete_unit(state: web::Data<AppState>, auth: Auth, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let caller = auth.caller;
    state
        .db
        .write(move |conn| {
            let unit = queries::lock_unit(conn, id)?.ok_or(ApiError::NotFound)?;
            if !caller.manages(&unit.path) {
                return Err(not_managed(&caller, &unit));
            }
            let usage = queries::unit_usage(conn, unit.id)?;
            if !usage.is_empty() {
                return Err(unit_in_use(usage));
            }
            queries::delete_unit(conn, unit.id)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
