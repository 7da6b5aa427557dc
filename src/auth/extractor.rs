//! `Auth` and `MaybeAuth` extractors: a bearer token becomes a caller, or the
//! request stops with 401. A bad token is never treated as anonymous.

use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use crate::auth::secrets;
use crate::db::models::UserRow;
use crate::db::queries;
use crate::domain::ids::UserId;
use crate::domain::people::Role;
use crate::error::ApiError;
use crate::policy::Caller;
use crate::service::callers::caller_from;
use crate::state::AppState;

/// A signed-in caller.
pub struct Auth {
    pub caller: Caller,
    pub user: UserRow,
    /// The session's stored id (the hash of the token's `sid`).
    pub session_id: String,
    /// When the access token expires (Unix seconds): a stream opened with
    /// it ends then.
    pub expires_at: i64,
}

/// Who made a request, as the audit trail records it.
#[derive(Debug, Clone, Copy)]
pub struct AuditActor {
    pub id: UserId,
    pub role: Role,
    /// The community of the actor's first post; `None` for super-admins
    /// and residents.
    pub community_id: Option<i64>,
}

impl AuditActor {
    fn of(caller: &Caller) -> Self {
        Self {
            id: caller.id,
            role: caller.role,
            community_id: caller
                .posts
                .iter()
                .find_map(|p| crate::domain::grid::community_of(&p.path)),
        }
    }
}

/// A caller who may or may not be signed in. A token that is sent but
/// invalid still answers 401.
pub struct MaybeAuth(pub Option<Auth>);

fn bearer_token(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    pasted_wrongly(token)?;
    Ok(Some(token.to_owned()))
}

/// Tokens copied by hand (Swagger UI's Authorize box, a shell) often carry
/// their JSON quotes or a second `Bearer `: say so, rather than only that
/// the token is invalid. Access tokens hold neither quotes nor spaces.
fn pasted_wrongly(token: &str) -> Result<(), ApiError> {
    let quotes: &[char] = &['"', '\'', '“', '”', '‘', '’', '`'];
    if token.starts_with(quotes) || token.ends_with(quotes) {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "The access token is wrapped in quotes; send it without them: `Authorization: Bearer eyJ…`.",
            "访问令牌带有引号，请去掉引号后发送：`Authorization: Bearer eyJ…`。",
        ));
    }
    let repeated = token
        .split_once(char::is_whitespace)
        .is_some_and(|(first, _)| first.eq_ignore_ascii_case("bearer"));
    if repeated {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "The header says `Bearer` twice; send the token alone after one `Bearer `: `Authorization: Bearer eyJ…`.",
            "请求头中 `Bearer` 出现了两次；`Bearer ` 后只需跟令牌本身：`Authorization: Bearer eyJ…`。",
        ));
    }
    Ok(())
}

fn malformed() -> ApiError {
    ApiError::unauthorized(
        "invalid_token",
        "Send the access token as `Authorization: Bearer <token>`.",
        "请以 `Authorization: Bearer <令牌>` 的形式发送访问令牌。",
    )
}

async fn authenticate(state: web::Data<AppState>, token: String) -> Result<Auth, ApiError> {
    let claims = state.jwt.verify(&token, state.clock.now())?;
    let user_id: i64 = claims.sub.parse().map_err(|_| malformed())?;
    // The token carries the session's secret; the database only its hash.
    let session_id = secrets::session_id(&claims.sid);
    let stored_id = session_id.clone();
    let remembered = state.sessions.get(&session_id, user_id);
    let found = match remembered {
        Some(signed) => Some(signed),
        None => {
            let generation = state.sessions.generation();
            let lookup = session_id.clone();
            let found = state
                .db
                .run(move |conn| {
                    let Some(user) = queries::active_session_user(conn, &lookup, user_id)? else {
                        return Ok(None);
                    };
                    let posts = queries::posts_with_units(conn, user.id)?;
                    Ok(Some((user, posts)))
                })
                .await?;
            if let Some(signed) = &found {
                state.sessions.put(generation, session_id, user_id, signed.clone());
            }
            found
        }
    };
    let (user, posts) = found.ok_or_else(|| {
        ApiError::unauthorized(
            "session_ended",
            "This session has ended; sign in again.",
            "会话已结束，请重新登录。",
        )
    })?;
    if !user.active {
        return Err(ApiError::unauthorized(
            "account_disabled",
            "This account has been deactivated.",
            "该账号已停用。",
        ));
    }
    if user.token_version != claims.ver {
        return Err(ApiError::unauthorized(
            "session_ended",
            "This session has ended; sign in again.",
            "会话已结束，请重新登录。",
        ));
    }
    Ok(Auth {
        caller: caller_from(&user, posts),
        user,
        session_id: stored_id,
        expires_at: claims.exp,
    })
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("AppState is not registered"))
}

impl FromRequest for MaybeAuth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let prepared = state_of(req).and_then(|state| Ok((state, bearer_token(req)?)));
        let req = req.clone();
        Box::pin(async move {
            let (state, token) = prepared?;
            match token {
                None => Ok(MaybeAuth(None)),
                Some(token) => {
                    let auth = authenticate(state, token).await?;
                    // For the audit trail: a change's row is made ready for
                    // the change's transaction; other rows are written once
                    // the answer is known.
                    let actor = AuditActor::of(&auth.caller);
                    req.extensions_mut().insert(actor);
                    crate::api::audit::prepare_change_row(&req, actor);
                    Ok(MaybeAuth(Some(auth)))
                }
            }
        })
    }
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let maybe = MaybeAuth::from_request(req, payload);
        Box::pin(async move {
            maybe.await?.0.ok_or_else(|| {
                ApiError::unauthorized(
                    "missing_token",
                    "Sign in and send an access token.",
                    "请先登录并携带访问令牌。",
                )
            })
        })
    }
}
