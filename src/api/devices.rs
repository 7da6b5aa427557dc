//! The caller's phones, registered for push: a push relay subscribed as a
//! webhook receives each notification with its recipients' device tokens
//! and needs no user database of its own (README: "Push relays").

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::JsonBody;
use super::problems::{BadRequest, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed};
use crate::auth::Auth;
use crate::clock::utc;
use crate::db::devices::{self as store, DeviceRow};
use crate::error::{ApiError, Invalid, Validator};
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(register_device)
        .service(list_devices)
        .service(forget_device);
}

/// The push service a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Apple Push Notification service.
    Apns,
    /// Firebase Cloud Messaging.
    Fcm,
    /// Huawei Push Kit (HMS).
    Hms,
    /// Xiaomi push.
    Mipush,
    /// OPPO push.
    Oppo,
    /// vivo push.
    Vivo,
    /// Honor push.
    Honor,
    /// JPush (极光推送).
    Jpush,
}

impl Platform {
    const ALL: [Self; 8] = [
        Self::Apns,
        Self::Fcm,
        Self::Hms,
        Self::Mipush,
        Self::Oppo,
        Self::Vivo,
        Self::Honor,
        Self::Jpush,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Apns => "apns",
            Self::Fcm => "fcm",
            Self::Hms => "hms",
            Self::Mipush => "mipush",
            Self::Oppo => "oppo",
            Self::Vivo => "vivo",
            Self::Honor => "honor",
            Self::Jpush => "jpush",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A device: a platform and the token its push service gave the app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"platform": "apns", "token": "（设备推送令牌）"}))]
pub struct DeviceToken {
    pub platform: Platform,
    /// 8–4096 characters: letters, digits and `_ - : . =`.
    #[schema(min_length = 8, max_length = 4096, pattern = r"^[A-Za-z0-9_:.=-]{8,4096}$")]
    pub token: String,
}

/// A registered device.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 12, "platform": "apns", "token": "3f1c…",
    "created_at": "2026-12-02T01:00:00Z", "updated_at": "2026-12-02T01:00:00Z"}))]
pub struct DeviceResponse {
    pub id: i64,
    pub platform: Platform,
    pub token: String,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
    /// When it was last registered.
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub updated_at: DateTime<Utc>,
}

/// The caller's devices.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": []}))]
pub struct DeviceList {
    pub items: Vec<DeviceResponse>,
}

fn response(row: DeviceRow) -> Result<DeviceResponse, ApiError> {
    Ok(DeviceResponse {
        id: row.id,
        platform: Platform::parse(&row.platform)
            .ok_or_else(|| ApiError::internal(format!("device {} has platform {:?}", row.id, row.platform)))?,
        token: row.token,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
    })
}

fn check_token(token: &str) -> Result<(), ApiError> {
    let fine = (8..=4096).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'=' | b'-'));
    let mut v = Validator::default();
    if !fine {
        v.push(
            "token",
            Invalid::new(
                "invalid",
                "8 to 4096 characters: letters, digits and _ - : . =",
                "须为 8 到 4096 个字符，仅限字母、数字和 _ - : . =",
            ),
        );
    }
    Ok(v.finish()?)
}

/// Register my device for push
///
/// The app calls it after sign-in and whenever its push token changes.
/// Registering a token again is harmless; a token registered by someone
/// else (a phone that changed hands) moves to the caller. A person keeps
/// up to 10 devices: an 11th forgets the one registered longest ago.
/// Ending every session of an account (a password change, deactivation, a
/// stolen refresh token detected) forgets its devices too: register again
/// after signing in. Notification webhooks carry each recipient's devices.
#[utoipa::path(
    tag = "me",
    request_body = DeviceToken,
    responses(
        (status = 201, description = "Registered to the caller now.", body = DeviceResponse),
        (status = 200, description = "The caller had it already; its time is renewed.", body = DeviceResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"token": ["invalid"]})))
)]
#[post("/me/devices")]
async fn register_device(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<DeviceToken>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    check_token(&input.token)?;
    let now = state.clock.now_naive();
    let user_id = auth.user.id;
    let (row, created) = state
        .db
        .write(move |conn| {
            Ok(store::register(
                conn,
                user_id,
                input.platform.as_str(),
                &input.token,
                now,
            )?)
        })
        .await?;
    let body = response(row)?;
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// List my devices
#[utoipa::path(
    tag = "me",
    responses(
        (status = 200, description = "The caller's devices, oldest first.", body = DeviceList),
        (status = 401, response = Unauthorized),
    ),
    security(("bearer" = []))
)]
#[get("/me/devices")]
async fn list_devices(state: web::Data<AppState>, auth: Auth) -> Result<web::Json<DeviceList>, ApiError> {
    let user_id = auth.user.id;
    let rows = state.db.run(move |conn| Ok(store::of_user(conn, user_id)?)).await?;
    let items = rows.into_iter().map(response).collect::<Result<_, _>>()?;
    Ok(web::Json(DeviceList { items }))
}

/// Forget my device
///
/// The app calls it at sign-out, so the phone is told nothing more. Only
/// the caller's own device is forgotten; any other answer is the same 204,
/// so it cannot tell whose a token is.
#[utoipa::path(
    tag = "me",
    request_body = DeviceToken,
    responses(
        (status = 204, description = "The caller has no such device now."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"token": ["invalid"]})))
)]
#[delete("/me/devices")]
async fn forget_device(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<DeviceToken>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    check_token(&input.token)?;
    let user_id = auth.user.id;
    state
        .db
        .write(move |conn| Ok(store::forget(conn, user_id, input.platform.as_str(), &input.token)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
