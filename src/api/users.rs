//! Accounts, as admins and staff see them.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, http::header, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{
    BadRequest, Busy, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
    ValidationFailed,
};
use super::{JsonBody, PageRequest, QueryParams, search_text};
use crate::auth::Auth;
use crate::clock::utc;
use crate::db::models::{NewUserRow, UserRow};
use crate::db::queries::{self, UserChanges, UserFilter, UserScope};
use crate::db::write_audit;
use crate::domain::grid::Level;
use crate::domain::ids::{PostId, UnitId, UserId};
use crate::domain::people::{PASSWORD_CODES, Password, Phone, Role, TEXT_CODES, Username, display_name, mask_phone};
use crate::error::{ApiError, Invalid, Validator};
use crate::policy::accounts::{self, AccountChange, AccountScope, AccountTies};
use crate::policy::audit::AuditObject;
use crate::policy::{self, Caller};
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(create_user)
        .service(list_users)
        .service(get_user)
        .service(update_user);
}

/// Reads `"field": null` as `Some(None)` and an absent field as `None`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A post a user holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPost {
    pub post_id: PostId,
    pub unit_id: UnitId,
    pub unit_name: String,
    pub level: Level,
}

/// An account. Phone numbers are masked (`138****1234`) except for the
/// person themselves, admins and committee-level staff.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 12, "username": "wangfang", "display_name": "王芳", "phone": "138****1234",
    "role": "resident", "active": true, "building_id": 9, "room": "3-502", "household_id": 30, "posts": [],
    "created_at": "2026-11-28T01:00:00Z", "updated_at": "2026-11-28T01:00:00Z"}))]
pub struct UserResponse {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub active: bool,
    /// Residents: the building they live in.
    pub building_id: Option<UnitId>,
    /// Residents: their room, e.g. `3-502`.
    pub room: Option<String>,
    /// Residents: the party-member household unit that serves them, once assigned.
    pub household_id: Option<UnitId>,
    /// Staff and admins: where they hold posts.
    pub posts: Vec<UserPost>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub updated_at: DateTime<Utc>,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [
    {"id": 12, "username": "wangfang", "display_name": "王芳", "phone": "138****1234", "role": "resident",
     "active": true, "building_id": 9, "room": "3-502", "household_id": 30, "posts": [],
     "created_at": "2026-11-28T01:00:00Z", "updated_at": "2026-11-28T01:00:00Z"},
    {"id": 7, "username": "lin.grid", "display_name": "林网格", "phone": "139****1111", "role": "staff",
     "active": true, "building_id": null, "room": null, "household_id": null,
     "posts": [{"post_id": 3, "unit_id": 9, "unit_name": "1号楼", "level": "building"}],
     "created_at": "2026-11-28T01:00:00Z", "updated_at": "2026-11-28T01:00:00Z"}
], "next_cursor": null}))]
pub struct UserList {
    pub items: Vec<UserResponse>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Maps rows into responses with their posts (one query for all rows).
/// `viewer` decides phone masking; `None` means the person themselves.
pub async fn user_responses(
    state: &AppState,
    rows: Vec<UserRow>,
    viewer: Option<&Caller>,
) -> Result<Vec<UserResponse>, ApiError> {
    let ids: Vec<i64> = rows
        .iter()
        .filter(|r| accounts::shows_posts(r.role))
        .map(|r| r.id)
        .collect();
    let posts = if ids.is_empty() {
        Vec::new()
    } else {
        state
            .db
            .run(move |conn| Ok(queries::posts_with_units_of_users(conn, &ids)?))
            .await?
    };
    let mut by_user: HashMap<i64, Vec<UserPost>> = HashMap::new();
    for (post, unit) in posts {
        let level = unit.level;
        by_user.entry(post.user_id).or_default().push(UserPost {
            post_id: PostId(post.id),
            unit_id: UnitId(unit.id),
            unit_name: unit.name,
            level,
        });
    }
    rows.into_iter()
        .map(|row| {
            let full_phone = viewer.is_none_or(|v| v.id.0 == row.id || v.sees_full_phones());
            Ok(UserResponse {
                id: UserId(row.id),
                role: row.role,
                posts: by_user.remove(&row.id).unwrap_or_default(),
                phone: row.phone.map(|p| if full_phone { p } else { mask_phone(&p) }),
                username: row.username,
                display_name: row.display_name,
                active: row.active,
                building_id: row.building_id.map(UnitId),
                room: row.room,
                household_id: row.household_id.map(UnitId),
                created_at: utc(row.created_at),
                updated_at: utc(row.updated_at),
            })
        })
        .collect()
}

/// The query's form of a policy scope (no creator is spelled -1, an id no
/// account has).
fn user_scope(scope: AccountScope) -> UserScope {
    match scope {
        AccountScope::All => UserScope::All,
        AccountScope::Subtrees {
            paths,
            created_by,
            communities,
        } => UserScope::Subtrees {
            prefixes: paths,
            creator: created_by.map_or(-1, |id| id.0),
            communities,
        },
    }
}

/// Loads one user if `caller` may see them (themselves always).
pub async fn visible_user(state: &AppState, caller: &Caller, id: i64) -> Result<UserRow, ApiError> {
    let scope = user_scope(accounts::readable_account(caller, UserId(id)).ok_or(ApiError::NotFound)?);
    state
        .db
        .run(move |conn| {
            let filter = UserFilter {
                id: Some(id),
                role: None,
                unit_path: None,
                q: None,
                after_id: None,
                limit: 1,
            };
            Ok(queries::list_users(conn, &scope, &filter)?.pop())
        })
        .await?
        .ok_or(ApiError::NotFound)
}

/// A staff or admin account, created by an admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "（登录名）", "password": "（初始密码，8–128 个字符）", "display_name": "（姓名）",
    "phone": "（手机号）", "role": "staff"}))]
pub struct CreateUser {
    #[schema(min_length = 3, max_length = 32, pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")]
    pub username: String,
    #[schema(min_length = 8, max_length = 128, pattern = r"^[^\u0000]*$")]
    pub password: String,
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub display_name: String,
    #[schema(pattern = r"^(1[3-9][0-9]{9}|\+861[3-9][0-9]{9}|\+[1-79][0-9]{7,14}|\+8[0-57-9][0-9]{6,13})$")]
    pub phone: String,
    /// `staff` or `admin` (residents register themselves).
    pub role: AccountRole,
}

/// The roles an admin creates accounts for.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountRole {
    Staff,
    Admin,
}

impl From<AccountRole> for Role {
    fn from(role: AccountRole) -> Self {
        match role {
            AccountRole::Staff => Role::Staff,
            AccountRole::Admin => Role::Admin,
        }
    }
}

/// Create a staff or admin account
///
/// The new account holds no posts yet: give it one with
/// `POST /api/v1/units/{id}/posts`. Until then it is visible to the admin who
/// created it.
#[utoipa::path(
    tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, description = "The account was created.", body = UserResponse,
            headers(("Location" = String, description = "URL of the new user"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 503, response = Busy),
    ),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["username_taken"]})),
        ("x-field-codes" = json!({"username": ["invalid_username"], "password": PASSWORD_CODES, "display_name": TEXT_CODES,
            "phone": ["invalid_phone"]}))
    )
)]
#[post("/users")]
async fn create_user(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let input = body.0;
    let mut v = Validator::default();
    let username = v.check("username", Username::parse(&input.username));
    let password = v.check("password", Password::parse(&input.password));
    let display_name = v.check("display_name", display_name(&input.display_name));
    let phone = v.check("phone", Phone::parse(&input.phone));
    if !policy::may_create_role(&auth.caller, input.role.into()) {
        return Err(ApiError::Forbidden);
    }
    v.finish()?;
    let (Some(username), Some(password), Some(display_name), Some(phone)) = (username, password, display_name, phone)
    else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let hash = state.hash_gate.hash(password.expose().to_owned()).await?;
    let now = state.clock.now_naive();
    let creator = auth.caller.id.0;
    let row = state
        .db
        .write(move |conn| {
            let row = queries::insert_user(
                conn,
                &NewUserRow {
                    phone: Some(phone.as_str()),
                    created_by: Some(creator),
                    ..NewUserRow::new(
                        username.as_str(),
                        &display_name,
                        &hash,
                        Role::from(input.role).as_str(),
                        now,
                    )
                },
            )?;
            // The creator chose the password: until the holder changes it,
            // the creator can sign in as the account.
            queries::add_password_witnesses(conn, row.id, creator)?;
            write_audit::created(AuditObject::User(row.id));
            Ok(row)
        })
        .await?;
    let id = row.id;
    let user = user_responses(&state, vec![row], Some(&auth.caller))
        .await?
        .pop()
        .ok_or(ApiError::Internal)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/users/{id}")))
        .json(user))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only accounts with this role.
    pub role: Option<Role>,
    /// Only people living in, or holding posts in, this unit's subtree.
    pub unit_id: Option<i64>,
    /// Text in the username or display name.
    #[param(pattern = r"^[^\u0000]*$")]
    pub q: Option<String>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[^\u0000]*$")]
    pub cursor: Option<String>,
}

/// List users
///
/// Admins see the people of their communities (residents living there, staff
/// holding posts there), the unassigned accounts they created, and staff and
/// admins whose last post was in their communities and who hold none now;
/// staff see the people of their subtrees; a super-admin sees everyone.
/// Ordered by id.
#[utoipa::path(
    tag = "users",
    params(UserQuery),
    responses(
        (status = 200, description = "A page of users.", body = UserList),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"q": ["too_long"], "unit_id": ["not_found"]})))
)]
#[get("/users")]
async fn list_users(
    state: web::Data<AppState>,
    auth: Auth,
    query: QueryParams<UserQuery>,
) -> Result<web::Json<UserList>, ApiError> {
    let scope = user_scope(accounts::listable_accounts(&auth.caller).ok_or(ApiError::Forbidden)?);
    let query = query.0;
    let mut v = Validator::default();
    let q = search_text("q", query.q.as_deref(), &mut v);
    let page = PageRequest::parse(query.limit, query.cursor.as_deref());
    v.finish()?;
    let page = page?;
    let rows = state
        .db
        .run(move |conn| {
            let unit_path = match query.unit_id {
                Some(id) => Some(
                    queries::find_unit(conn, id)?
                        .ok_or_else(|| {
                            ApiError::field(
                                "unit_id",
                                Invalid::new("not_found", "No unit has this id.", "没有此编号的单元。"),
                            )
                        })?
                        .path,
                ),
                None => None,
            };
            let filter = UserFilter {
                id: None,
                role: query.role.map(Role::as_str),
                unit_path: unit_path.as_deref(),
                q: q.as_deref(),
                after_id: page.after_id,
                limit: page.fetch(),
            };
            Ok(queries::list_users(conn, &scope, &filter)?)
        })
        .await?;
    let (rows, next_cursor) = page.finish(rows, |r| r.id);
    let items = user_responses(&state, rows, Some(&auth.caller)).await?;
    Ok(web::Json(UserList { items, next_cursor }))
}

/// Get a user
///
/// Callers always see themselves; admins and staff see the people tied to
/// their subtrees (see `GET /api/v1/users`). Anyone else is 404.
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The user.", body = UserResponse),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/users/{id}")]
async fn get_user(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
) -> Result<web::Json<UserResponse>, ApiError> {
    let row = visible_user(&state, &auth.caller, id.into_inner()).await?;
    let user = user_responses(&state, vec![row], Some(&auth.caller))
        .await?
        .pop()
        .ok_or(ApiError::Internal)?;
    Ok(web::Json(user))
}

/// Changes to an account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct UpdateUser {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub display_name: Option<String>,
    #[schema(pattern = r"^(1[3-9][0-9]{9}|\+861[3-9][0-9]{9}|\+[1-79][0-9]{7,14}|\+8[0-57-9][0-9]{6,13})$")]
    pub phone: Option<String>,
    /// `false` deactivates the account and ends all its sessions at once.
    pub active: Option<bool>,
    /// Residents only: the household unit (in their building) that serves
    /// them; `null` clears it. Branch-level staff may set this too.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub household_id: Option<Option<UnitId>>,
}

/// Update a user
///
/// Admins change display name, phone, `active` and a resident's
/// `household_id` within their communities; staff at branch level or above
/// may change only `household_id` of residents in their subtree. Staff and
/// admins who also hold a post in another community are changed only by a
/// super-admin (403 for either community's admin).
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, description = "User id")),
    request_body = UpdateUser,
    responses(
        (status = 200, description = "The updated user.", body = UserResponse),
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
        ("x-problem-codes" = json!({"403": ["cannot_deactivate_self"]})),
        ("x-field-codes" = json!({"display_name": TEXT_CODES, "phone": ["invalid_phone"], "household_id": ["not_a_resident", "not_in_building"]}))
    )
)]
#[patch("/users/{id}")]
async fn update_user(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<UpdateUser>,
) -> Result<web::Json<UserResponse>, ApiError> {
    let caller = auth.caller;
    let target = visible_user(&state, &caller, id.into_inner()).await?;
    let input = body.0;
    let change = if input.display_name.is_none() && input.phone.is_none() && input.active.is_none() {
        AccountChange::HouseholdOnly
    } else {
        AccountChange::Profile
    };

    // Authority is judged at the user's home (residents) or posts (staff).
    let (building, user_id) = (target.building_id, target.id);
    let (home_path, post_paths) = state
        .db
        .run(move |conn| {
            let home = match building {
                Some(building) => queries::find_unit(conn, building)?.map(|u| u.path),
                None => None,
            };
            let posts: Vec<String> = queries::posts_with_units(conn, user_id)?
                .into_iter()
                .map(|(_, unit)| unit.path)
                .collect();
            Ok((home, posts))
        })
        .await?;
    let ties = AccountTies {
        home_path: home_path.as_deref(),
        post_paths: &post_paths,
    };
    if !accounts::may_change_account(&caller, ties, change) {
        return Err(ApiError::Forbidden);
    }
    // Nobody locks themselves out: a refusal of the request, not of a value.
    if input.active == Some(false) && target.id == caller.id.0 {
        return Err(ApiError::Refused {
            code: "cannot_deactivate_self",
            detail: crate::error::Text::new("You cannot deactivate your own account.", "不能停用自己的账号。"),
        });
    }

    let mut v = Validator::default();
    let display_name = input
        .display_name
        .as_deref()
        .and_then(|n| v.check("display_name", display_name(n)));
    let phone = input.phone.as_deref().and_then(|p| v.check("phone", Phone::parse(p)));
    // Clearing (`null`) is what a non-resident already has; naming one is not.
    if matches!(input.household_id, Some(Some(_))) && !accounts::served_by_household(target.role) {
        v.push(
            "household_id",
            Invalid::new(
                "not_a_resident",
                "Only residents are served by a household.",
                "只有居民才由党员中心户联系。",
            ),
        );
    }
    v.finish()?;

    let now = state.clock.now_naive();
    let target_id = target.id;
    let building_id = target.building_id;
    let row = state
        .db
        .write(move |conn| {
            if let Some(Some(household)) = input.household_id {
                let unit = queries::lock_unit(conn, household.0)?;
                let fits = match &unit {
                    Some(u) => u.level == Level::Household && u.parent_id == building_id,
                    None => false,
                };
                if !fits {
                    return Err(ApiError::field(
                        "household_id",
                        Invalid::new(
                            "not_in_building",
                            "Choose a household unit in the resident's building.",
                            "请选择居民所在楼栋下的党员中心户。",
                        ),
                    ));
                }
            }
            let changes = UserChanges {
                display_name,
                phone: phone.map(|p| Some(p.as_str().to_owned())),
                active: input.active,
                household_id: input.household_id.map(|h| h.map(|u| u.0)),
                updated_at: Some(now),
                ..Default::default()
            };
            let row = queries::update_user(conn, target_id, &changes)?;
            if input.active == Some(false) {
                queries::revoke_all_sessions(conn, target_id, now)?;
            }
            Ok(row)
        })
        .await?;
    let user = user_responses(&state, vec![row], Some(&caller))
        .await?
        .pop()
        .ok_or(ApiError::Internal)?;
    Ok(web::Json(user))
}
