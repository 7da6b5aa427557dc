//! Posts: a staff user's position at a grid unit. A post's scope is the
//! unit's subtree.

use actix_web::{HttpResponse, delete, get, http::header, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use super::units::not_managed;
use super::users::visible_user;
use super::{JsonBody, PageRequest, QueryParams};
use crate::auth::Auth;
use crate::clock::utc;
use crate::db::models::{PostRow, UserRow};
use crate::db::queries;
use crate::domain::ids::{PostId, UnitId, UserId};
use crate::domain::people::Role;
use crate::error::{ApiError, Invalid};
use crate::policy;
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(create_post).service(list_posts).service(delete_post);
}

/// A post: who holds it, where.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "unit_id": 9, "user_id": 7, "username": "lin.grid", "display_name": "林网格",
    "role": "staff", "created_at": "2026-11-28T01:00:00Z"}))]
pub struct PostResponse {
    pub id: PostId,
    pub unit_id: UnitId,
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
}

fn post_response(post: PostRow, user: UserRow) -> Result<PostResponse, ApiError> {
    Ok(PostResponse {
        id: PostId(post.id),
        unit_id: UnitId(post.unit_id),
        user_id: UserId(user.id),
        role: user.role,
        username: user.username,
        display_name: user.display_name,
        created_at: utc(post.created_at),
    })
}

/// A page of posts.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{"id": 3, "unit_id": 9, "user_id": 7, "username": "lin.grid",
    "display_name": "林网格", "role": "staff", "created_at": "2026-11-28T01:00:00Z"}], "next_cursor": null}))]
pub struct PostList {
    pub items: Vec<PostResponse>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user_id": 0}))]
pub struct CreatePost {
    /// A staff account (any level) or an admin account (committee units only).
    pub user_id: UserId,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostQuery {
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[^\u0000]*$")]
    pub cursor: Option<String>,
}

/// Give a user a post at a unit
///
/// Admins only, inside their communities. Staff may hold posts at any level;
/// an admin's post must be at a committee (the community they manage).
#[utoipa::path(
    tag = "posts",
    params(("id" = i64, Path, description = "Unit id")),
    request_body = CreatePost,
    responses(
        (status = 201, description = "The post was created.", body = PostResponse,
            headers(("Location" = String, description = "URL of the unit's posts"))),
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
        ("x-problem-codes" = json!({"409": ["post_exists"]})),
        ("x-field-codes" = json!({"user_id": ["not_found", "cannot_hold_post_here"]}))
    )
)]
#[post("/units/{id}/posts")]
async fn create_post(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<CreatePost>,
) -> Result<HttpResponse, ApiError> {
    let unit_id = id.into_inner();
    if !auth.caller.is_admin() {
        return Err(ApiError::Forbidden);
    }
    let user_not_found = || {
        ApiError::field(
            "user_id",
            Invalid::new("not_found", "No user has this id.", "没有此编号的用户。"),
        )
    };
    // The unit first: another community's household is 404 whatever the body says.
    let checker = auth.caller.clone();
    state
        .db
        .run(move |conn| {
            let unit = queries::find_unit(conn, unit_id)?.ok_or(ApiError::NotFound)?;
            if checker.manages(&unit.path) {
                Ok(())
            } else {
                Err(not_managed(&checker, &unit))
            }
        })
        .await?;
    let user = match visible_user(&state, &auth.caller, body.0.user_id.0).await {
        Err(ApiError::NotFound) => return Err(user_not_found()),
        other => other?,
    };
    let role = user.role;
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let (post, user) = state
        .db
        .write(move |conn| {
            let unit = queries::lock_unit(conn, unit_id)?.ok_or(ApiError::NotFound)?;
            if !caller.manages(&unit.path) {
                return Err(not_managed(&caller, &unit));
            }
            if !policy::may_hold_post_at(role, unit.level) {
                return Err(ApiError::field(
                    "user_id",
                    Invalid::new(
                        "cannot_hold_post_here",
                        "Staff may hold posts at any unit, admins only at committees; residents and super-admins hold none.",
                        "网格员可在任一单元任职，管理员只能在社区党委任职；居民和超级管理员不任职。",
                    ),
                ));
            }
            let post = queries::insert_post(conn, user.id, unit.id, now)?;
            Ok((post, user))
        })
        .await?;
    let location = format!("/api/v1/units/{unit_id}/posts");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(post_response(post, user)?))
}

/// List the posts at a unit
///
/// For staff and admins whose own posts cover the unit, and super-admins.
#[utoipa::path(
    tag = "posts",
    params(("id" = i64, Path, description = "Unit id"), PostQuery),
    responses(
        (status = 200, description = "A page of posts.", body = PostList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/units/{id}/posts")]
async fn list_posts(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    query: QueryParams<PostQuery>,
) -> Result<web::Json<PostList>, ApiError> {
    let unit_id = id.into_inner();
    let page = PageRequest::parse(query.0.limit, query.0.cursor.as_deref())?;
    let caller = auth.caller;
    let rows = state
        .db
        .run(move |conn| {
            let unit = queries::find_unit(conn, unit_id)?.ok_or(ApiError::NotFound)?;
            if !caller.works_in(&unit.path) {
                return Err(ApiError::NotFound);
            }
            Ok(queries::list_posts_of_unit(conn, unit.id, page.after_id, page.fetch())?)
        })
        .await?;
    let (rows, next_cursor) = page.finish(rows, |(post, _)| post.id);
    let items = rows
        .into_iter()
        .map(|(post, user)| post_response(post, user))
        .collect::<Result<_, _>>()?;
    Ok(web::Json(PostList { items, next_cursor }))
}

/// Remove a post
///
/// Admins only, inside their communities. An admin cannot remove their own
/// last post (409 `own_last_post`): another admin of the community or a
/// super-admin may.
#[utoipa::path(
    tag = "posts",
    params(("id" = i64, Path, description = "Post id")),
    responses(
        (status = 204, description = "The post was removed."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = [])),
    extensions(("x-problem-codes" = json!({"409": ["own_last_post"]})))
)]
#[delete("/posts/{id}")]
async fn delete_post(state: web::Data<AppState>, auth: Auth, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let post_id = id.into_inner();
    let caller = auth.caller;
    state
        .db
        .write(move |conn| {
            let (post, unit) = queries::find_post(conn, post_id)?.ok_or(ApiError::NotFound)?;
            if !caller.works_in(&unit.path) {
                return Err(ApiError::NotFound);
            }
            if !caller.manages(&unit.path) {
                return Err(ApiError::Forbidden);
            }
            // The holder's row first: two removals of their posts count one after the other.
            queries::lock_user(conn, post.user_id)?.ok_or(ApiError::Internal)?;
            let held = queries::posts_with_units(conn, post.user_id)?.len();
            if policy::removes_own_last_post(&caller, UserId(post.user_id), held) {
                return Err(ApiError::conflict(
                    "own_last_post",
                    "This is your last post; another admin or a super-admin may remove it.",
                    "这是您的最后一个职务，须由其他管理员或超级管理员移除。",
                ));
            }
            queries::delete_post(conn, post_id)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
