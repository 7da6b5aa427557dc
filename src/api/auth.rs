//! Registration, sign-in, token refresh and sign-out.

use actix_web::{HttpRequest, HttpResponse, http::header, post, web};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{
    BadRequest, Busy, Conflict, PayloadTooLarge, RefreshRefused, SignInFailed, TooManyRequests, Unauthorized,
    UnsupportedMediaType, ValidationFailed,
};
use super::users::{UserResponse, user_responses};
use super::{JsonBody, QueryParams};
use crate::auth::{Auth, password, secrets};
use crate::db::models::{NewUserRow, UserRow};
use crate::db::queries::{self, RefreshOutcome, Successor};
use crate::domain::grid::Level;
use crate::domain::ids::UnitId;
use crate::domain::people::{PASSWORD_CODES, Password, Phone, Role, TEXT_CODES, Username, display_name, room};
use crate::error::{ApiError, Invalid, Text, Validator};
use crate::limits;
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(register_resident)
        .service(sign_in)
        .service(refresh_session)
        .service(sign_out);
}

/// A resident's self-registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "your-username", "password": "your-password", "display_name": "（姓名）",
    "phone": "（手机号）", "building_id": 0, "room": "（房号）"}))]
pub struct RegisterResident {
    /// 3–32 characters: letters, digits, `_`, `.`, `-`; case-insensitive.
    #[schema(min_length = 3, max_length = 32, pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")]
    pub username: String,
    /// 8–128 characters.
    #[schema(min_length = 8, max_length = 128, pattern = r"^[^\u0000]*$")]
    pub password: String,
    /// 1–64 characters, shown to staff.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub display_name: String,
    /// Mainland mobile (`13812341234`) or E.164 (`+85291234567`).
    #[schema(pattern = r"^(1[3-9][0-9]{9}|\+861[3-9][0-9]{9}|\+[1-79][0-9]{7,14}|\+8[0-57-9][0-9]{6,13})$")]
    pub phone: String,
    /// The building unit the resident lives in (see `GET /api/v1/units?level=building`).
    pub building_id: UnitId,
    /// Room label, e.g. `3-502` (1–32 characters).
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub room: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "your-username", "password": "your-password"}))]
pub struct LoginRequest {
    #[schema(pattern = r"^[^\u0000]*$")]
    pub username: String,
    #[schema(pattern = r"^[^\u0000]*$")]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "your-refresh-token"}))]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh. Single use.
    #[schema(pattern = r"^[^\u0000]*$")]
    pub refresh_token: String,
}

/// Tokens for a session. Send the access token as `Authorization: Bearer …`;
/// before it expires, trade the refresh token for a new pair.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMiJ9.c2lnbmF0dXJl",
    "token_type": "Bearer", "expires_in": 900, "refresh_token": "Xq3v9TmB2pLk7wRz0cYd4A.q5n0J2m7l0t1m8b1QdNq2nqYg8xXo6g3m5l0VvQw2sA"}))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque, single-use; presenting a spent one more than 30 seconds after
    /// its use ends the whole session.
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegisterQuery {
    /// `true` also signs the new account in: the answer carries `tokens`,
    /// as `POST /auth/login` would answer them, which spares the app a
    /// second password check (and a place in the sign-in limits).
    pub sign_in: Option<bool>,
}

/// The new account; with `sign_in=true`, also its first token pair.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 12, "username": "wangfang", "display_name": "王芳", "phone": "138****1234",
    "role": "resident", "active": true, "building_id": 9, "room": "3-502", "household_id": null, "posts": [],
    "created_at": "2026-11-28T01:00:00Z", "updated_at": "2026-11-28T01:00:00Z",
    "tokens": {"access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMiJ9.c2lnbmF0dXJl",
        "token_type": "Bearer", "expires_in": 900,
        "refresh_token": "Xq3v9TmB2pLk7wRz0cYd4A.q5n0J2m7l0t1m8b1QdNq2nqYg8xXo6g3m5l0VvQw2sA"}}))]
pub struct RegisteredUser {
    #[serde(flatten)]
    pub user: UserResponse,
    /// Present with `sign_in=true` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub tokens: Option<TokenResponse>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogoutQuery {
    /// `true` ends every session of the account, on every device.
    pub everywhere: Option<bool>,
}

/// Register as a resident
///
/// Creates a resident account with a home (building and room). The household
/// unit that serves the resident is assigned later by the community. One
/// client address may register 10 times an hour (a setting); beyond that the
/// answer is 429 `too_many_registrations` with `Retry-After`. When too many
/// password checks are queued already the answer is 503 `server_busy` with
/// `Retry-After`, and the attempt does not count. With `sign_in=true` the
/// answer also carries `tokens`, a signed-in session for the new account.
#[utoipa::path(
    tag = "auth",
    params(RegisterQuery),
    request_body = RegisterResident,
    responses(
        (status = 201, description = "The account was created (with `sign_in=true`, also signed in).", body = RegisteredUser,
            headers(("Location" = String, description = "URL of the new user"))),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Busy),
    ),
    security(()),
    extensions(
        ("x-problem-codes" = json!({"409": ["username_taken"], "429": ["too_many_registrations"]})),
        ("x-field-codes" = json!({"username": ["invalid_username"], "password": PASSWORD_CODES, "display_name": TEXT_CODES,
            "phone": ["invalid_phone"], "room": TEXT_CODES, "building_id": ["not_a_building"]}))
    )
)]
#[post("/auth/register")]
async fn register_resident(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: QueryParams<RegisterQuery>,
    body: JsonBody<RegisterResident>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let also_sign_in = query.0.sign_in.unwrap_or(false);
    let mut v = Validator::default();
    let username = v.check("username", Username::parse(&input.username));
    let password = v.check("password", Password::parse(&input.password));
    let display_name = v.check("display_name", display_name(&input.display_name));
    let phone = v.check("phone", Phone::parse(&input.phone));
    let room = v.check("room", room(&input.room));
    v.finish()?;
    let (Some(username), Some(password), Some(display_name), Some(phone), Some(room)) =
        (username, password, display_name, phone, room)
    else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let now = state.clock.now_naive();
    // The place is taken before the password is hashed, and kept whatever
    // becomes of the registration: what is limited is the hashing.
    let key = state
        .limits
        .key(state.limits.registration_address, &client_address(&req));
    let reservation = limits::reserve_in(&state.db, vec![key], now)
        .await?
        .map_err(|retry_after| ApiError::TooManyRequests {
            code: "too_many_registrations",
            detail: Text::new(
                "Too many registrations from this address; wait before trying again.",
                "该地址注册次数过多，请稍后再试。",
            ),
            retry_after,
        })?;
    let hash = match state.hash_gate.hash(password.expose().to_owned()).await {
        Err(busy @ ApiError::Busy { .. }) => {
            reservation.give_back(&state.db).await?;
            return Err(busy);
        }
        other => {
            reservation.keep();
            other?
        }
    };
    let building_id = input.building_id.0;
    let row = state
        .db
        .write(move |conn| {
            let building = queries::lock_unit(conn, building_id)?;
            let is_building = match &building {
                Some(unit) => unit.level == Level::Building,
                None => false,
            };
            if !is_building {
                return Err(ApiError::field(
                    "building_id",
                    Invalid::new("not_a_building", "Choose a building unit.", "请选择一个楼栋单元。"),
                ));
            }
            queries::insert_user(
                conn,
                &NewUserRow {
                    phone: Some(phone.as_str()),
                    building_id: Some(building_id),
                    room: Some(&room),
                    ..NewUserRow::new(username.as_str(), &display_name, &hash, Role::Resident.as_str(), now)
                },
            )
        })
        .await?;
    let id = row.id;
    let tokens = match also_sign_in {
        true => Some(open_session(&state, &row).await?),
        false => None,
    };
    let user = user_responses(&state, vec![row], None)
        .await?
        .pop()
        .ok_or(ApiError::Internal)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/users/{id}")))
        .json(RegisteredUser { user, tokens }))
}

fn bad_credentials() -> ApiError {
    ApiError::sign_in_failed(
        "invalid_credentials",
        "Wrong username or password.",
        "用户名或密码错误。",
    )
}

/// Opens a session for `user` and issues its first token pair.
async fn open_session(state: &AppState, user: &UserRow) -> Result<TokenResponse, ApiError> {
    let now = state.clock.now();
    // The secret goes to the client only; the database keeps hashes.
    let session_secret = secrets::new_session_secret();
    let session_id = secrets::session_id(&session_secret);
    let refresh_token = secrets::refresh_token(&session_secret);
    let refresh_hash = secrets::token_hash(&refresh_token);
    let expires_at = (now + state.refresh_ttl).naive_utc();
    let user_id = user.id;
    state
        .db
        .write(move |conn| {
            queries::insert_session(conn, &session_id, user_id, now.naive_utc())?;
            queries::insert_refresh_token(conn, &session_id, &refresh_hash, now.naive_utc(), expires_at)?;
            Ok(())
        })
        .await?;
    tokens(state, user, &session_secret, refresh_token)
}

/// A token pair: the access token carries the session's secret as `sid`.
fn tokens(
    state: &AppState,
    user: &UserRow,
    session_secret: &str,
    refresh_token: String,
) -> Result<TokenResponse, ApiError> {
    let access_token = state.jwt.issue(
        user.id,
        user.role.as_str(),
        user.token_version,
        session_secret,
        state.clock.now(),
    )?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.jwt.access_ttl.num_seconds(),
        refresh_token,
    })
}

/// Sign in
///
/// Exchanges a username and password for an access token (15 minutes by
/// default) and a refresh token. A wrong password and an unknown user get
/// the same answer. After 5 failed attempts on one account, or 30 from one
/// client address, within 15 minutes, sign-in answers 429 with `Retry-After`
/// (even with the right password) until the oldest failure is 15 minutes old.
/// The counts are shared by every server on the database. When too many
/// password checks are queued already the answer is 503 `server_busy` with
/// `Retry-After`, and the attempt does not count.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in.", body = TokenResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = SignInFailed),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Busy),
    ),
    security(()),
    extensions(("x-problem-codes" = json!({"429": ["too_many_login_attempts"]})))
)]
#[post("/auth/login")]
async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let LoginRequest { username, password } = body.0;
    Ok(web::Json(
        sign_in_with_password(&state, &req, &username, password).await?,
    ))
}

/// Signs in with a password: the one home of the sign-in limits, the hash
/// gate and the same answer for unknown users (`/auth/login` and the
/// OAuth2 password grant of `/auth/token`).
pub(super) async fn sign_in_with_password(
    state: &AppState,
    req: &HttpRequest,
    username: &str,
    given: String,
) -> Result<TokenResponse, ApiError> {
    let now = state.clock.now_naive();
    let limits = &state.limits;
    // Keys: the account as typed (case-folded, as usernames are unique that
    // way) and the client address.
    let account = limits.key(limits.sign_in_account, &username.trim().to_lowercase());
    let address = limits.key(limits.sign_in_address, &client_address(req));
    // Places in both counts are taken before the password is checked, so a
    // burst cannot outrun the count; a success gives them back.
    let reservation = limits::reserve_in(&state.db, vec![account.clone(), address], now)
        .await?
        .map_err(|retry_after| ApiError::TooManyRequests {
            code: "too_many_login_attempts",
            detail: Text::new(
                "Too many failed sign-ins; wait before trying again.",
                "登录失败次数过多，请稍后再试。",
            ),
            retry_after,
        })?;
    if given.chars().count() > Password::MAX_CHARS {
        reservation.keep();
        return Err(bad_credentials());
    }
    let user = match Username::parse(username) {
        Ok(name) => {
            state
                .db
                .run(move |conn| Ok(queries::find_user_by_username(conn, name.as_str())?))
                .await?
        }
        Err(_) => None,
    };
    // Exactly one argon2 verification whether or not the account exists.
    let checked = state
        .hash_gate
        .run(move |memory| match user {
            Some(user) => {
                let ok = password::verify_with(&given, &user.password_hash, memory);
                (Some(user), ok)
            }
            None => {
                password::verify_dummy(&given, memory);
                (None, false)
            }
        })
        .await;
    let user = match checked {
        Ok((Some(user), true)) => user,
        Ok(_) => {
            reservation.keep();
            return Err(bad_credentials());
        }
        Err(busy @ ApiError::Busy { .. }) => {
            reservation.give_back(&state.db).await?;
            return Err(busy);
        }
        Err(other) => return Err(other),
    };
    reservation.succeeded(&state.db, account).await?;
    if !user.active {
        return Err(ApiError::sign_in_failed(
            "account_disabled",
            "This account has been deactivated.",
            "该账号已停用。",
        ));
    }
    open_session(state, &user).await
}

/// The client's address, as the key of per-address limits: the peer of the
/// connection. `X-Forwarded-For` is not read (no proxy is trusted), so
/// behind a reverse proxy every client shares the proxy's address.
fn client_address(req: &HttpRequest) -> String {
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()
}

/// Refresh tokens
///
/// Trades a refresh token for a new access token and a new refresh token.
/// Each refresh token works once. Presenting a spent one again within 30
/// seconds of its first use (two refreshes sent at once, a retry after a
/// lost answer) answers its successor again, the same refresh token and an
/// equivalent access token; later, it is a replay (401
/// `refresh_token_reused`) and ends the whole session, including the
/// newest tokens.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair.", body = TokenResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = RefreshRefused),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(())
)]
#[post("/auth/refresh")]
async fn refresh_session(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    Ok(web::Json(renew(&state, &body.0.refresh_token).await?))
}

/// Trades a refresh token for a new pair: the one home of rotation, its
/// grace window and replay detection (`/auth/refresh` and `/auth/token`).
pub(super) async fn renew(state: &AppState, presented: &str) -> Result<TokenResponse, ApiError> {
    let presented = presented.trim().to_owned();
    let invalid = || {
        ApiError::refresh_refused(
            "invalid_refresh_token",
            "The refresh token is unknown, expired or its session has ended.",
            "刷新令牌无效、已过期或会话已结束。",
        )
    };
    // The session's secret travels at the head of its refresh tokens: the
    // new access token needs it, and the database holds only its hash.
    let session_secret = secrets::session_secret_of(&presented).ok_or_else(invalid)?.to_owned();
    let session_id = secrets::session_id(&session_secret);
    let presented_hash = secrets::token_hash(&presented);
    let now = state.clock.now();
    let next_token = secrets::refresh_token(&session_secret);
    let successor = Successor {
        token_hash: secrets::token_hash(&next_token),
        sealed: secrets::seal_successor(&presented, &next_token)
            .ok_or_else(|| ApiError::internal("a new refresh token could not be sealed"))?,
        expires_at: (now + state.refresh_ttl).naive_utc(),
    };
    let outcome = state
        .db
        .write(move |conn| {
            Ok(queries::spend_refresh_token(
                conn,
                &presented_hash,
                &session_id,
                &successor,
                now.naive_utc(),
                secrets::REFRESH_GRACE,
            )?)
        })
        .await?;
    match outcome {
        RefreshOutcome::Spent { user } => tokens(state, &user, &session_secret, next_token),
        RefreshOutcome::Repeated { user, sealed_successor } => {
            let successor = secrets::open_successor(&presented, &sealed_successor)
                .ok_or_else(|| ApiError::internal("a stored successor did not open"))?;
            tokens(state, &user, &session_secret, successor)
        }
        RefreshOutcome::Replayed => Err(ApiError::refresh_refused(
            "refresh_token_reused",
            "This refresh token was already used; the session has been ended for safety. Sign in again.",
            "该刷新令牌已被使用过，为安全起见会话已结束，请重新登录。",
        )),
        RefreshOutcome::Invalid => Err(invalid()),
    }
}

/// Sign out
///
/// Ends this session: its access and refresh tokens stop working at once.
/// With `everywhere=true`, ends every session of the account.
#[utoipa::path(
    tag = "auth",
    params(LogoutQuery),
    responses(
        (status = 204, description = "Signed out."),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/auth/logout")]
async fn sign_out(
    state: web::Data<AppState>,
    auth: Auth,
    query: QueryParams<LogoutQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now_naive();
    let everywhere = query.0.everywhere.unwrap_or(false);
    let (user_id, session_id) = (auth.user.id, auth.session_id);
    state
        .db
        .write(move |conn| {
            if everywhere {
                queries::revoke_all_sessions(conn, user_id, now)?;
            } else {
                queries::revoke_session(conn, &session_id, now)?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How long refresh tokens live unless configured otherwise.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::days(30);
