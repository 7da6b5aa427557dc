//! The signed-in caller's own account.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::JsonBody;
use super::problems::{
    BadRequest, Busy, PayloadTooLarge, TooManyRequests, Unauthorized, UnsupportedMediaType, ValidationFailed,
    WrongPassword,
};
use super::users::{UserResponse, user_responses};
use crate::auth::{Auth, password};
use crate::db::queries::{self, UserChanges};
use crate::domain::people::{PASSWORD_CODES, Password, Phone, TEXT_CODES, display_name};
use crate::error::{ApiError, Text, Validator};
use crate::limits;
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(get_me).service(update_me).service(change_password);
}

/// Get my account
///
/// The caller's own account, with full phone number and posts.
#[utoipa::path(
    tag = "me",
    responses(
        (status = 200, description = "The caller's account.", body = UserResponse),
        (status = 401, response = Unauthorized),
    ),
    security(("bearer" = []))
)]
#[get("/me")]
async fn get_me(state: web::Data<AppState>, auth: Auth) -> Result<web::Json<UserResponse>, ApiError> {
    let me = user_responses(&state, vec![auth.user], None)
        .await?
        .pop()
        .ok_or(ApiError::Internal)?;
    Ok(web::Json(me))
}

/// Changes to my account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct UpdateMe {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub display_name: Option<String>,
    #[schema(pattern = r"^(1[3-9][0-9]{9}|\+861[3-9][0-9]{9}|\+[1-79][0-9]{7,14}|\+8[0-57-9][0-9]{6,13})$")]
    pub phone: Option<String>,
}

/// Update my account
///
/// Changes the caller's display name or phone number.
#[utoipa::path(
    tag = "me",
    request_body = UpdateMe,
    responses(
        (status = 200, description = "The updated account.", body = UserResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"display_name": TEXT_CODES, "phone": ["invalid_phone"]})))
)]
#[patch("/me")]
async fn update_me(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<UpdateMe>,
) -> Result<web::Json<UserResponse>, ApiError> {
    let input = body.0;
    let mut v = Validator::default();
    let display_name = input
        .display_name
        .as_deref()
        .and_then(|n| v.check("display_name", display_name(n)));
    let phone = input.phone.as_deref().and_then(|p| v.check("phone", Phone::parse(p)));
    v.finish()?;
    let now = state.clock.now_naive();
    let id = auth.user.id;
    let row = state
        .db
        .write(move |conn| {
            let changes = UserChanges {
                display_name,
                phone: phone.map(|p| Some(p.as_str().to_owned())),
                updated_at: Some(now),
                ..Default::default()
            };
            Ok(queries::update_user(conn, id, &changes)?)
        })
        .await?;
    let me = user_responses(&state, vec![row], None)
        .await?
        .pop()
        .ok_or(ApiError::Internal)?;
    Ok(web::Json(me))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"current_password": "（当前密码）", "new_password": "（新密码，8–128 个字符）"}))]
pub struct ChangePassword {
    #[schema(pattern = r"^[^\u0000]*$")]
    pub current_password: String,
    /// 8–128 characters.
    #[schema(min_length = 8, max_length = 128, pattern = r"^[^\u0000]*$")]
    pub new_password: String,
}

/// Change my password
///
/// Needs the current password. Ends every session of the account, this one
/// included: sign in again with the new password. A wrong current password
/// is 403 `wrong_password`; after 5 of them in 15 minutes the account's
/// password changes answer 429 for the rest of that window, so a stolen
/// access token cannot be used to guess the password. When too many
/// password checks are queued already the answer is 503 `server_busy` with
/// `Retry-After`, and the attempt does not count.
#[utoipa::path(
    tag = "me",
    request_body = ChangePassword,
    responses(
        (status = 204, description = "The password was changed and all sessions ended."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = WrongPassword),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Busy),
    ),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"429": ["too_many_password_attempts"]})),
        ("x-field-codes" = json!({"new_password": PASSWORD_CODES}))
    )
)]
#[post("/me/password")]
async fn change_password(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<ChangePassword>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let mut v = Validator::default();
    let new_password = v.check("new_password", Password::parse(&input.new_password));
    v.finish()?;
    let Some(new_password) = new_password else {
        return Err(ApiError::internal("validated fields missing"));
    };
    // Counted apart from the account's sign-in failures.
    let key = state
        .limits
        .key(state.limits.password_change, &auth.user.id.to_string());
    let now = state.clock.now_naive();
    // A place is taken before the password is checked, so a burst cannot
    // outrun the count; a success gives it back.
    let reservation = limits::reserve_in(&state.db, vec![key.clone()], now)
        .await?
        .map_err(|retry_after| ApiError::TooManyRequests {
            code: "too_many_password_attempts",
            detail: Text::new(
                "Too many wrong current passwords; wait before trying again.",
                "当前密码错误次数过多，请稍后再试。",
            ),
            retry_after,
        })?;
    let stored = auth.user.password_hash.clone();
    let current = input.current_password;
    // One turn at the gate for both the check and the new hash.
    let checked = state
        .hash_gate
        .run(move |memory| {
            if current.chars().count() > Password::MAX_CHARS || !password::verify_with(&current, &stored, memory) {
                return Ok(None);
            }
            password::hash_with(new_password.expose(), memory).map(Some)
        })
        .await;
    let new_hash = match checked {
        Ok(Ok(Some(new_hash))) => new_hash,
        Ok(Ok(None)) => {
            reservation.keep();
            return Err(ApiError::Refused {
                code: "wrong_password",
                detail: Text::new("The current password is wrong.", "当前密码不正确。"),
            });
        }
        Err(busy @ ApiError::Busy { .. }) => {
            reservation.give_back(&state.db).await?;
            return Err(busy);
        }
        Ok(Err(error)) | Err(error) => return Err(error),
    };
    reservation.succeeded(&state.db, key).await?;
    let id = auth.user.id;
    state
        .db
        .write(move |conn| {
            let changes = UserChanges {
                password_hash: Some(new_hash),
                updated_at: Some(now),
                ..Default::default()
            };
            queries::update_user(conn, id, &changes)?;
            queries::forget_password_witnesses(conn, id)?;
            queries::revoke_all_sessions(conn, id, now)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
