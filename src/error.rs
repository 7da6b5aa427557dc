//! One error type for the whole API, answered as RFC 9457
//! `application/problem+json` in English or Chinese.

use std::fmt;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::domain::text::{FieldError, FieldErrors, Invalid, Lang, Text, Validator};

/// Every error the API answers. Each variant has exactly one status.
pub enum ApiError {
    /// 400: the request cannot be read at all (malformed JSON, bad header).
    BadRequest { code: &'static str, detail: Text },
    /// 401: the bearer token is missing, malformed, expired or revoked.
    Unauthorized { code: &'static str, detail: Text },
    /// 401: a sign-in with a password failed (wrong username or password,
    /// a deactivated account). No bearer token was at fault.
    SignInFailed { code: &'static str, detail: Text },
    /// 401: a refresh token was not accepted (unknown, expired, spent).
    /// No bearer token was at fault.
    RefreshRefused { code: &'static str, detail: Text },
    /// 403: the caller's role may never use this operation (nothing is hidden
    /// by saying so). Objects a caller may not see are 404 instead.
    Forbidden,
    /// 403 with a reason of its own: e.g. `wrong_password`, a credential the
    /// request carried to confirm a change was not accepted.
    Refused { code: &'static str, detail: Text },
    /// 404: no such thing, or the caller may not see it.
    NotFound,
    /// 405: the path exists but not with this method.
    MethodNotAllowed { allow: Vec<String> },
    /// 409: the request conflicts with the current state.
    Conflict { code: &'static str, detail: Text },
    /// 409 `invalid_transition`: the action is not allowed in the ticket's
    /// current status; says which status and which actions are allowed now.
    InvalidTransition {
        action: &'static str,
        status: &'static str,
        allowed: Vec<&'static str>,
    },
    /// 412 `version_mismatch`: `If-Match` names an older version of the resource.
    PreconditionFailed { current_version: i64 },
    /// 409 `version_mismatch`: the body's `version` names an older version
    /// (a precondition header fails with 412, a stale body field is a conflict).
    StaleVersion { current_version: i64 },
    /// 408: the body did not arrive within the time allowed for it; the
    /// connection is closed after the answer.
    RequestTimeout { seconds: u64 },
    /// 413: the body is larger than the configured limit.
    PayloadTooLarge { limit: usize },
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 422: the body or query was read but its values are not acceptable.
    Validation(Vec<FieldError>),
    /// 429: too many requests of this kind; try again after `retry_after` seconds.
    TooManyRequests {
        code: &'static str,
        detail: Text,
        retry_after: u64,
    },
    /// 500: a bug or an unexpected failure; the cause is logged, never sent.
    Internal,
    /// 503: the database does not answer.
    Unavailable,
    /// 503 `server_busy`: too many password hashes are waiting already;
    /// try again after `retry_after` seconds.
    Busy { retry_after: u64 },
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors.0)
    }
}

/// Seconds a client waits before trying again after `service_unavailable`.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 5;

impl ApiError {
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::Internal
    }

    pub fn unavailable(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "database unavailable");
        Self::Unavailable
    }

    pub fn field(field: &str, invalid: Invalid) -> Self {
        Self::Validation(vec![FieldError::new(field, invalid.code, invalid.message)])
    }

    pub fn conflict(code: &'static str, en: &'static str, zh: &'static str) -> Self {
        Self::Conflict {
            code,
            detail: Text::new(en, zh),
        }
    }

    pub fn unauthorized(code: &'static str, en: &'static str, zh: &'static str) -> Self {
        Self::Unauthorized {
            code,
            detail: Text::new(en, zh),
        }
    }

    pub fn sign_in_failed(code: &'static str, en: &'static str, zh: &'static str) -> Self {
        Self::SignInFailed {
            code,
            detail: Text::new(en, zh),
        }
    }

    pub fn refresh_refused(code: &'static str, en: &'static str, zh: &'static str) -> Self {
        Self::RefreshRefused {
            code,
            detail: Text::new(en, zh),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::SignInFailed { code, .. }
            | Self::RefreshRefused { code, .. }
            | Self::Conflict { code, .. }
            | Self::Refused { code, .. }
            | Self::TooManyRequests { code, .. } => code,
            Self::Forbidden => "forbidden",
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::PreconditionFailed { .. } | Self::StaleVersion { .. } => "version_mismatch",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::RequestTimeout { .. } => "request_timeout",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::Internal => "internal_error",
            Self::Unavailable => "service_unavailable",
            Self::Busy { .. } => "server_busy",
        }
    }

    fn title(&self) -> Text {
        match self {
            Self::BadRequest { .. } => Text::new("Bad Request", "请求无法解析"),
            Self::Unauthorized { .. } => Text::new("Unauthorized", "未登录或登录已失效"),
            Self::SignInFailed { .. } => Text::new("Sign-in failed", "登录失败"),
            Self::RefreshRefused { .. } => Text::new("Session not renewed", "登录无法续期"),
            Self::Forbidden | Self::Refused { .. } => Text::new("Forbidden", "无权执行此操作"),
            Self::NotFound => Text::new("Not Found", "未找到"),
            Self::MethodNotAllowed { .. } => Text::new("Method Not Allowed", "不支持该请求方法"),
            Self::Conflict { .. } | Self::InvalidTransition { .. } | Self::StaleVersion { .. } => {
                Text::new("Conflict", "与当前状态冲突")
            }
            Self::PreconditionFailed { .. } => Text::new("Precondition Failed", "数据已被修改"),
            Self::RequestTimeout { .. } => Text::new("Request Timeout", "请求超时"),
            Self::PayloadTooLarge { .. } => Text::new("Payload Too Large", "请求体过大"),
            Self::UnsupportedMediaType => Text::new("Unsupported Media Type", "不支持的内容类型"),
            Self::Validation(_) => Text::new("Unprocessable Content", "输入有误"),
            Self::TooManyRequests { .. } => Text::new("Too Many Requests", "请求过于频繁"),
            Self::Internal => Text::new("Internal Server Error", "服务器内部错误"),
            Self::Unavailable | Self::Busy { .. } => Text::new("Service Unavailable", "服务暂不可用"),
        }
    }

    fn detail(&self) -> Text {
        match self {
            Self::BadRequest { detail, .. }
            | Self::Unauthorized { detail, .. }
            | Self::SignInFailed { detail, .. }
            | Self::RefreshRefused { detail, .. }
            | Self::Conflict { detail, .. }
            | Self::Refused { detail, .. }
            | Self::TooManyRequests { detail, .. } => detail.clone(),
            Self::InvalidTransition {
                action,
                status,
                allowed,
            } => {
                let (en, zh) = if allowed.is_empty() {
                    ("nothing".to_owned(), "无".to_owned())
                } else {
                    (allowed.join(", "), allowed.join(", "))
                };
                Text::owned(
                    format!("`{action}` is not possible while the ticket is `{status}`; allowed now: {en}."),
                    format!("工单当前状态为 {status}，不能执行 {action}；当前可执行：{zh}。"),
                )
            }
            Self::PreconditionFailed { current_version } | Self::StaleVersion { current_version } => Text::owned(
                format!(
                    "The ticket was changed meanwhile; it is now at version {current_version}. Reload it and try again."
                ),
                format!("工单已被他人修改，当前版本为 {current_version}，请刷新后重试。"),
            ),
            Self::Forbidden => Text::new("Your role may not perform this operation.", "您的角色无权执行此操作。"),
            Self::NotFound => Text::new(
                "The requested resource does not exist or is not visible to you.",
                "请求的资源不存在或您无权查看。",
            ),
            Self::MethodNotAllowed { allow } => Text::owned(
                format!("This path supports only: {}.", allow.join(", ")),
                format!("此路径仅支持：{}。", allow.join(", ")),
            ),
            Self::RequestTimeout { seconds } => Text::owned(
                format!("The request body did not arrive within {seconds} seconds."),
                format!("请求体未在 {seconds} 秒内传完。"),
            ),
            Self::PayloadTooLarge { limit } => Text::owned(
                format!("The request body is larger than {limit} bytes."),
                format!("请求体超过 {limit} 字节。"),
            ),
            Self::UnsupportedMediaType => Text::new(
                "Send the request body as application/json.",
                "请求体须为 application/json。",
            ),
            Self::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                Text::owned(
                    format!("Some fields are invalid: {}.", fields.join(", ")),
                    format!("以下字段有误：{}。", fields.join(", ")),
                )
            }
            Self::Internal => Text::new(
                "Something went wrong on our side. Please try again later.",
                "服务器出错了，请稍后再试。",
            ),
            Self::Unavailable => Text::new(
                "The database is not reachable. Please try again later.",
                "数据库暂时无法访问，请稍后再试。",
            ),
            Self::Busy { .. } => Text::new(
                "The server is busy checking passwords; try again in a few seconds.",
                "服务器正忙于校验密码，请几秒后重试。",
            ),
        }
    }

    fn problem(&self) -> Problem {
        Problem {
            code: self.code(),
            status: self.status_code().as_u16(),
            title: self.title(),
            detail: self.detail(),
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
            current_status: match self {
                Self::InvalidTransition { status, .. } => Some(status),
                _ => None,
            },
            allowed_actions: match self {
                Self::InvalidTransition { allowed, .. } => Some(allowed.clone()),
                _ => None,
            },
            current_version: match self {
                Self::PreconditionFailed { current_version } | Self::StaleVersion { current_version } => {
                    Some(*current_version)
                }
                _ => None,
            },
        }
    }
}

/// What reaches the log: the status, the code and, for validation, the
/// field names. Never the messages, which may quote what the client sent
/// (a password typed into the wrong field, a phone number).
impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status_code().as_u16(), self.code())?;
        if let Self::Validation(errors) = self {
            let fields: Vec<String> = errors.iter().map(|e| format!("{} ({})", e.field, e.code)).collect();
            write!(f, ": {}", fields.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.detail().en)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } | Self::SignInFailed { .. } | Self::RefreshRefused { .. } => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden | Self::Refused { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } | Self::InvalidTransition { .. } | Self::StaleVersion { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable | Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let problem = self.problem();
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        response.insert_header((header::VARY, "Accept-Language"));
        match self {
            // RFC 6750 §3: `invalid_token` names a bearer token that was
            // sent and is bad; a missing one, a password or a refresh token
            // in the body get the bare challenge.
            Self::Unauthorized { code, .. } => {
                let challenge = if *code == "missing_token" {
                    "Bearer realm=\"griddesk\""
                } else {
                    "Bearer realm=\"griddesk\", error=\"invalid_token\""
                };
                response.insert_header((header::WWW_AUTHENTICATE, challenge));
            }
            Self::SignInFailed { .. } | Self::RefreshRefused { .. } => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"griddesk\""));
            }
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.join(", ")));
            }
            Self::TooManyRequests { retry_after, .. } | Self::Busy { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            // A pool that gave no connection in time is usually busy, not
            // gone: clients (and load balancers) back off for a moment.
            Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, UNAVAILABLE_RETRY_AFTER_SECONDS.to_string()));
            }
            // The rest of a body that came too slowly is not worth waiting
            // for: the connection ends with this answer.
            Self::RequestTimeout { .. } => {
                response.force_close();
            }
            _ => {}
        }
        let mut response = response.body(problem.render(Lang::En));
        response.extensions_mut().insert(problem);
        response
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => Self::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::conflict(
                "already_exists",
                "A record with the same unique value already exists.",
                "已存在相同的记录。",
            ),
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => Self::conflict(
                "in_use",
                "The record is referenced by other records.",
                "该记录正被其他数据引用。",
            ),
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => Self::conflict(
                "concurrent_update",
                "Another request changed the same data at the same time. Please retry.",
                "数据正被其他请求同时修改，请重试。",
            ),
            // The server restarted or the network dropped: worth a retry,
            // and the pool replaces the connection (`db::Liveness`).
            error @ Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => Self::unavailable(error),
            other => Self::internal(other),
        }
    }
}

/// The problem document, kept on the response so it can be re-rendered in
/// the caller's language.
#[derive(Debug, Clone)]
pub struct Problem {
    code: &'static str,
    status: u16,
    title: Text,
    detail: Text,
    errors: Vec<FieldError>,
    current_status: Option<&'static str>,
    allowed_actions: Option<Vec<&'static str>>,
    current_version: Option<i64>,
}

impl Problem {
    fn render(&self, lang: Lang) -> String {
        let body = ProblemDetails {
            r#type: format!("urn:griddesk:problem:{}", self.code),
            title: self.title.get(lang).to_owned(),
            status: self.status,
            detail: self.detail.get(lang).to_owned(),
            code: self.code.to_owned(),
            errors: self
                .errors
                .iter()
                .map(|e| FieldProblem {
                    field: e.field.clone(),
                    code: e.code.to_owned(),
                    message: e.message.get(lang).to_owned(),
                })
                .collect(),
            current_status: self.current_status.map(str::to_owned),
            allowed_actions: self
                .allowed_actions
                .as_ref()
                .map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
            current_version: self.current_version,
        };
        serde_json::to_string(&body).unwrap_or_else(|_| String::from("{}"))
    }
}

/// An RFC 9457 problem document. Every error the API answers has this shape.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:griddesk:problem:validation_failed",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "Some fields are invalid: phone.",
    "code": "validation_failed",
    "errors": [{"field": "phone", "code": "invalid_phone", "message": "Enter a mainland mobile number (11 digits starting with 1) or an international number like +85291234567."}]
}))]
pub struct ProblemDetails {
    /// A URI naming the problem type: `urn:griddesk:problem:{code}`.
    pub r#type: String,
    /// Short summary of the status, in the caller's language.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in the caller's language.
    pub detail: String,
    /// A stable machine-readable code, e.g. `validation_failed`, `invalid_credentials`, `unit_in_use`.
    pub code: String,
    /// Per-field problems (422 only; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// `invalid_transition` only: the ticket's status now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::domain::ticket::Status>)]
    pub current_status: Option<String>,
    /// `invalid_transition` only: the actions the status allows now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<crate::domain::ticket::Action>>)]
    pub allowed_actions: Option<Vec<String>>,
    /// `version_mismatch` (412) only: the resource's version now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
}

/// One invalid field of a request.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldProblem {
    /// The field's name as sent, e.g. `phone` or `parent_id`.
    pub field: String,
    /// A stable machine-readable code, e.g. `required`, `too_short`, `invalid_phone`.
    pub code: String,
    /// What to change, in the caller's language.
    pub message: String,
}

/// Middleware body: re-renders problem documents in the caller's language.
pub async fn localize_problems(
    req: ServiceRequest,
    next: actix_web::middleware::Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let lang = Lang::from_accept_language(req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let response = next.call(req).await?;
    let problem = response.response().extensions().get::<Problem>().cloned();
    let Some(problem) = problem else { return Ok(response) };
    let mut response = response.map_body(|_, _| BoxBody::new(problem.render(lang)));
    response
        .headers_mut()
        .insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.tag()));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_the_highest_quality_tag_we_speak() {
        assert_eq!(Lang::from_accept_language(None), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("en-US,zh;q=0.5")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("fr, zh;q=0.3")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("zh;q=0, en")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("de")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("ZH-hans")), Lang::Zh);
    }

    #[test]
    fn problems_render_in_both_languages() {
        let problem = ApiError::NotFound.problem();
        let en: serde_json::Value = serde_json::from_str(&problem.render(Lang::En)).unwrap();
        let zh: serde_json::Value = serde_json::from_str(&problem.render(Lang::Zh)).unwrap();
        assert_eq!(en["code"], "not_found");
        assert_eq!(en["status"], 404);
        assert_eq!(en["type"], "urn:griddesk:problem:not_found");
        assert_eq!(zh["title"], "未找到");
        assert!(en.get("errors").is_none());
    }
}
