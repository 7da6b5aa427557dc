//! The OAuth 2.0 token endpoint (RFC 6749 §4.3, §5, §6): the password and
//! refresh-token grants for clients that speak OAuth 2.0, such as Swagger
//! UI's "Authorize" dialog. Sign-in and refresh are those of `/auth/login`
//! and `/auth/refresh` (one home each, in `auth.rs`); only the envelope
//! differs.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, post, web};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{TokenResponse, renew, sign_in_with_password};
use super::problems::{Busy, PayloadTooLarge, TooManyRequests};
use super::{content_type_is, read_body};
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(issue_oauth_token);
}

/// A token request, form-encoded (RFC 6749 §4.3.2, §6). Parameters other
/// than these (`scope`, `client_id`) are ignored; an empty one counts as
/// absent.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"grant_type": "password", "username": "your-username", "password": "your-password"}))]
#[allow(dead_code)] // read from the form by name; the struct is the document's
pub struct TokenRequest {
    grant_type: GrantType,
    /// `password` grant: the username.
    #[schema(nullable = false, pattern = r"^[^\u0000]*$")]
    username: Option<String>,
    /// `password` grant: the password.
    #[schema(nullable = false, pattern = r"^[^\u0000]*$")]
    password: Option<String>,
    /// `refresh_token` grant: the refresh token from the last sign-in or
    /// refresh.
    #[schema(nullable = false, pattern = r"^[^\u0000]*$")]
    refresh_token: Option<String>,
    /// Ignored: every token carries the account's own rights.
    #[schema(nullable = false, pattern = r"^[^\u0000]*$")]
    scope: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // for the document
pub enum GrantType {
    Password,
    RefreshToken,
}

/// An error of the token endpoint in the shape RFC 6749 §5.2 requires.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": "invalid_grant", "error_description": "Wrong username or password.",
    "code": "invalid_credentials"}))]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    /// What went wrong, in English (the RFC allows ASCII only).
    pub error_description: String,
    /// `invalid_grant` only: griddesk's code for the reason, as
    /// `/auth/login` and `/auth/refresh` answer it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub code: Option<GrantRefusal>,
}

/// RFC 6749 §5.2 error codes this endpoint answers: `invalid_request` (a
/// parameter is missing or repeated, or the body is not form-encoded),
/// `unsupported_grant_type`, `invalid_grant` (see `code`).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidGrant,
    UnsupportedGrantType,
}

/// Why a grant was refused. Wrong password: ask again. Deactivated: tell
/// the user. A bad or reused refresh token: sign in again.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantRefusal {
    InvalidCredentials,
    AccountDisabled,
    InvalidRefreshToken,
    RefreshTokenReused,
}

impl GrantRefusal {
    fn of(code: &str) -> Option<Self> {
        Some(match code {
            "invalid_credentials" => Self::InvalidCredentials,
            "account_disabled" => Self::AccountDisabled,
            "invalid_refresh_token" => Self::InvalidRefreshToken,
            "refresh_token_reused" => Self::RefreshTokenReused,
            _ => return None,
        })
    }
}

/// The form's parameters, each at most once (RFC 6749 §3.2).
struct TokenForm(Result<Vec<(String, String)>, OAuthError>);

impl FromRequest for TokenForm {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = content_type_is(req, |essence| essence == "application/x-www-form-urlencoded");
        let body = read_body(req, payload);
        Box::pin(async move {
            let bytes = body.await?;
            if !is_form {
                return Ok(Self(Err(invalid_request(
                    "Send the parameters as application/x-www-form-urlencoded.",
                ))));
            }
            let mut pairs: Vec<(String, String)> = Vec::new();
            for (name, value) in form_urlencoded::parse(&bytes) {
                if name.contains('\0') || value.contains('\0') {
                    return Ok(Self(Err(invalid_request("Parameters may not contain U+0000."))));
                }
                if value.is_empty() {
                    continue;
                }
                if pairs.iter().any(|(seen, _)| *seen == name) {
                    return Ok(Self(Err(invalid_request(&format!(
                        "The parameter {name} is repeated."
                    )))));
                }
                pairs.push((name.into_owned(), value.into_owned()));
            }
            Ok(Self(Ok(pairs)))
        })
    }
}

fn invalid_request(description: &str) -> OAuthError {
    OAuthError {
        error: OAuthErrorCode::InvalidRequest,
        error_description: ascii(description),
        code: None,
    }
}

/// RFC 6749 §5.2 allows `%x20-21 / %x23-5B / %x5D-7E` in descriptions.
fn ascii(text: &str) -> String {
    text.chars()
        .filter(|c| matches!(*c, ' '..='~') && *c != '"' && *c != '\\')
        .collect()
}

/// Answers with the headers RFC 6749 §5.1 requires of every answer
/// carrying tokens, and of its errors alike.
fn no_store(mut response: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    response
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header((header::PRAGMA, "no-cache"));
    response
}

/// Get tokens (OAuth 2.0)
///
/// The OAuth 2.0 token endpoint (RFC 6749), for clients that speak it
/// (Swagger UI's "Authorize" dialog): `grant_type=password` with `username`
/// and `password` signs in exactly as `POST /auth/login` does (same limits,
/// same answer for unknown users); `grant_type=refresh_token` with
/// `refresh_token` refreshes exactly as `POST /auth/refresh` does (same
/// grace window and replay detection). The body is
/// `application/x-www-form-urlencoded`. Refusals of the request or the
/// grant are 400 in RFC 6749 §5.2 shape (`{"error": "invalid_grant", …}`),
/// with griddesk's `code` for a refused grant; limits (429), a busy server
/// (503) and an oversized body (413) answer problem documents, as
/// everywhere else, since OAuth 2.0 defines no error for them.
#[utoipa::path(
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Signed in or refreshed.", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "The request or the grant was refused (RFC 6749 §5.2).", body = OAuthError,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Busy),
    ),
    security(()),
    extensions(("x-problem-codes" = json!({"429": ["too_many_login_attempts"]})))
)]
#[post("/auth/token")]
async fn issue_oauth_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: TokenForm,
) -> Result<HttpResponse, ApiError> {
    let granted = match form.0 {
        Ok(params) => grant(&state, &req, params).await?,
        Err(refused) => Err(refused),
    };
    Ok(match granted {
        Ok(tokens) => no_store(HttpResponse::Ok()).json(tokens),
        Err(refused) => no_store(HttpResponse::BadRequest()).json(refused),
    })
}

/// The grant the form asks for. `Err(ApiError)` is an answer outside OAuth
/// 2.0 (429, 503, 500); `Ok(Err(_))` a refusal in its shape.
async fn grant(
    state: &AppState,
    req: &HttpRequest,
    mut params: Vec<(String, String)>,
) -> Result<Result<TokenResponse, OAuthError>, ApiError> {
    let mut take = |name: &str| {
        params
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| params.swap_remove(i).1)
    };
    let missing = |name: &str| invalid_request(&format!("The parameter {name} is missing."));
    let result = match take("grant_type").as_deref() {
        None => return Ok(Err(missing("grant_type"))),
        Some("password") => {
            let (Some(username), Some(password)) = (take("username"), take("password")) else {
                return Ok(Err(missing("username or password")));
            };
            sign_in_with_password(state, req, &username, password).await
        }
        Some("refresh_token") => {
            let Some(refresh_token) = take("refresh_token") else {
                return Ok(Err(missing("refresh_token")));
            };
            renew(state, &refresh_token).await
        }
        Some(_) => {
            return Ok(Err(OAuthError {
                error: OAuthErrorCode::UnsupportedGrantType,
                error_description: ascii("Use grant_type=password or grant_type=refresh_token."),
                code: None,
            }));
        }
    };
    match result {
        Ok(tokens) => Ok(Ok(tokens)),
        Err(ApiError::SignInFailed { code, detail } | ApiError::RefreshRefused { code, detail }) => {
            Ok(Err(OAuthError {
                error: OAuthErrorCode::InvalidGrant,
                error_description: ascii(&detail.en),
                code: GrantRefusal::of(code),
            }))
        }
        Err(other) => Err(other),
    }
}
