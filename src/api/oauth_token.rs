//! `POST /api/v1/auth/token`: the OAuth 2.0 password grant (RFC 6749 §4.3),
//! so Swagger UI's Authorize dialog signs in with a username and password.
//!
//! A stand-in until the token work brings its own endpoint. Sign-in lives in
//! `auth::login`, and one actix handler cannot call another, so
//! `password_grant` (an app middleware, which runs before routing) turns a
//! form-encoded request to this path into `POST /api/v1/auth/login` with the
//! same username and password as JSON: the same limits, the same checks and
//! the same answer. `token` documents the operation and answers whatever is
//! not a form.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, Uri, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::TokenResponse;
use super::problems::{
    BadRequest, Busy, PayloadTooLarge, TooManyRequests, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use crate::error::{ApiError, Invalid, Text};
use crate::state::AppState;

const TOKEN_PATH: &str = "/api/v1/auth/token";
const LOGIN_PATH: &str = "/api/v1/auth/login";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(token);
}

/// An access-token request (RFC 6749 §4.3.2), form-encoded.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"grant_type": "password", "username": "（登录名）", "password": "（密码）"}))]
#[allow(dead_code)] // the document's shape; `password_grant` reads the form
pub struct TokenForm {
    /// Always `password`.
    #[schema(pattern = "^password$")]
    pub grant_type: String,
    #[schema(pattern = r"^[^\u0000]*$")]
    pub username: String,
    #[schema(pattern = r"^[^\u0000]*$")]
    pub password: String,
    /// Ignored: every token carries the account's own rights.
    #[schema(pattern = r"^[^\u0000]*$")]
    pub scope: Option<String>,
    /// Ignored: no client is registered (Swagger UI may send it empty).
    #[schema(pattern = r"^[^\u0000]*$")]
    pub client_id: Option<String>,
    /// Ignored, like `client_id`.
    #[schema(pattern = r"^[^\u0000]*$")]
    pub client_secret: Option<String>,
}

/// Sign in with a form (OAuth 2.0 password grant)
///
/// What Swagger UI's *Authorize* dialog sends: `grant_type=password`,
/// `username` and `password`, form-encoded. Answers as `POST
/// /api/v1/auth/login` does, with the same limits: an access token (15
/// minutes by default) and a refresh token.
#[utoipa::path(
    tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Signed in.", body = TokenResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Busy),
    ),
    security(())
)]
#[post("/auth/token")]
async fn token() -> Result<HttpResponse, ApiError> {
    // A form never gets here: `password_grant` sent it to sign-in.
    Err(ApiError::UnsupportedMediaType)
}

fn is_form(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Turns a form-encoded `POST /api/v1/auth/token` into `POST
/// /api/v1/auth/login` with a JSON body; every other request passes as it is.
pub async fn password_grant(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() != Method::POST || req.path() != TOKEN_PATH || !is_form(&req) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let timeout = req.app_data::<web::Data<AppState>>().map_or(
        std::time::Duration::from_secs(super::DEFAULT_BODY_TIMEOUT_SECONDS),
        |s| s.body_timeout,
    );
    let bytes = match actix_web::rt::time::timeout(timeout, req.extract::<web::Bytes>()).await {
        Err(_) => {
            let seconds = timeout.as_secs().max(1);
            return Ok(req.error_response(ApiError::RequestTimeout { seconds }));
        }
        Ok(Err(_)) => {
            return Ok(req.error_response(ApiError::PayloadTooLarge {
                limit: super::BODY_LIMIT,
            }));
        }
        Ok(Ok(bytes)) => bytes,
    };
    let login = match login_body(&bytes) {
        Ok(login) => login,
        Err(error) => return Ok(req.error_response(error)),
    };
    let uri = Uri::from_static(LOGIN_PATH);
    req.match_info_mut().get_mut().update(&uri);
    req.head_mut().uri = uri;
    let headers = req.headers_mut();
    // Swagger UI sends its (empty) client credentials as HTTP Basic.
    headers.remove(header::AUTHORIZATION);
    headers.remove(header::TRANSFER_ENCODING);
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(login.len()));
    req.set_payload(Payload::from(web::Bytes::from(login)));
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The sign-in JSON for a token request's form, or why there is none.
fn login_body(form: &[u8]) -> Result<Vec<u8>, ApiError> {
    let (mut grant_type, mut username, mut password) = (None, None, None);
    for (name, value) in form_urlencoded::parse(form) {
        let slot = match name.as_ref() {
            "grant_type" => &mut grant_type,
            "username" => &mut username,
            "password" => &mut password,
            "scope" | "client_id" | "client_secret" => continue,
            other => {
                return Err(ApiError::field(
                    other,
                    Invalid::new("unknown_field", "Unknown field.", "未知字段。"),
                ));
            }
        };
        // RFC 6749 §3.2: a parameter is sent at most once.
        if slot.replace(value.into_owned()).is_some() {
            return Err(ApiError::field(
                &name,
                Invalid::new("repeated_field", "Send this field once.", "此字段只能出现一次。"),
            ));
        }
    }
    if grant_type.as_deref() != Some("password") {
        return Err(ApiError::BadRequest {
            code: "unsupported_grant_type",
            detail: Text::new(
                "Only `grant_type=password` is supported.",
                "仅支持 grant_type=password。",
            ),
        });
    }
    let required = |field: &str| ApiError::field(field, Invalid::new("required", "Required.", "必填。"));
    let username = username.ok_or_else(|| required("username"))?;
    let password = password.ok_or_else(|| required("password"))?;
    serde_json::to_vec(&serde_json::json!({"username": username, "password": password})).map_err(|_| ApiError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_grant_becomes_the_sign_in_body() {
        let body = login_body(b"grant_type=password&username=jm.admin&password=a%26b%3Dc&scope=&client_id=").unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, serde_json::json!({"username": "jm.admin", "password": "a&b=c"}));
        let code = |form: &[u8]| match login_body(form) {
            Err(ApiError::BadRequest { code, .. }) => code.to_owned(),
            Err(ApiError::Validation(errors)) => format!("{}:{}", errors[0].field, errors[0].code),
            other => panic!("{other:?}"),
        };
        assert_eq!(code(b"grant_type=client_credentials"), "unsupported_grant_type");
        assert_eq!(code(b"grant_type=password&username=a"), "password:required");
        assert_eq!(
            code(b"grant_type=password&username=a&username=b&password=c"),
            "username:repeated_field"
        );
        assert_eq!(code(b"grant_type=password&role=admin"), "role:unknown_field");
    }
}
