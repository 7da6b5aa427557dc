//! Reusable error responses for the OpenAPI document. Every error body is a
//! [`ProblemDetails`] served as `application/problem+json`.
#![allow(dead_code)] // these types exist for the document only

use utoipa::ToResponse;

use crate::error::ProblemDetails;

/// The request could not be read: malformed JSON or a malformed header.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:griddesk:problem:malformed_json", "title": "Bad Request", "status": 400,
        "detail": "The body is not valid JSON: expected `,` or `}` at line 1 column 18.", "code": "malformed_json"})
)]
pub struct BadRequest(ProblemDetails);

/// The access token is missing or not accepted. `code` says what to do:
///
/// | `code` | what the app should do |
/// |---|---|
/// | `missing_token` | Sign in (or send the access token it has). |
/// | `token_expired` | Refresh (`POST /api/v1/auth/refresh`), then repeat the request. |
/// | `invalid_token` | Do not retry or refresh with it: it is damaged, foreign or pasted wrongly (`detail` says which, e.g. quotes or a second `Bearer `). Sign in again. |
/// | `session_ended` | The session was signed out, or ended by a password change or a replayed refresh token. Sign in again; refreshing will not help. |
/// | `account_disabled` | The account was deactivated: tell the user; signing in will not help. |
///
/// `WWW-Authenticate` says `error="invalid_token"` whenever a token was sent
/// and refused (every code but `missing_token`).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"griddesk\"`, with `error=\"invalid_token\"` when a token was sent")),
    example = json!({"type": "urn:griddesk:problem:missing_token", "title": "Unauthorized", "status": 401,
        "detail": "Sign in and send an access token.", "code": "missing_token"})
)]
pub struct Unauthorized(ProblemDetails);

/// The password sign-in failed: `invalid_credentials` (wrong username or
/// password, the same answer for an unknown user: ask the user again) or
/// `account_disabled` (the account was deactivated: tell the user).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"griddesk\"`")),
    example = json!({"type": "urn:griddesk:problem:invalid_credentials", "title": "Sign-in failed", "status": 401,
        "detail": "Wrong username or password.", "code": "invalid_credentials"})
)]
pub struct SignInFailed(ProblemDetails);

/// The refresh token was not accepted; in either case sign in again.
/// `invalid_refresh_token`: unknown, expired, or its session has ended.
/// `refresh_token_reused`: it was spent more than 30 seconds before (a
/// replay), so the whole session has been ended in case it was stolen.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"griddesk\"`")),
    example = json!({"type": "urn:griddesk:problem:refresh_token_reused", "title": "Session not renewed", "status": 401,
        "detail": "This refresh token was already used; the session has been ended for safety. Sign in again.",
        "code": "refresh_token_reused"})
)]
pub struct RefreshRefused(ProblemDetails);

/// The caller's role may never use this operation (`forbidden`), or the
/// request is refused for the reason its `code` names: `staff_only` (a
/// resident writing an internal note or filing for someone else),
/// `cannot_deactivate_self`, `wrong_password`, `own_request` (deciding an
/// extension one asked for oneself).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:griddesk:problem:forbidden", "title": "Forbidden", "status": 403,
        "detail": "Your role may not perform this operation.", "code": "forbidden"})
)]
pub struct Forbidden(ProblemDetails);

/// The current password given to confirm the change is wrong (`wrong_password`).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:griddesk:problem:wrong_password", "title": "Forbidden", "status": 403,
        "detail": "The current password is wrong.", "code": "wrong_password"})
)]
pub struct WrongPassword(ProblemDetails);

/// No such resource, or the caller may not see it (never 403 for objects).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:griddesk:problem:not_found", "title": "Not Found", "status": 404,
        "detail": "The requested resource does not exist or is not visible to you.", "code": "not_found"})
)]
pub struct NotFound(ProblemDetails);

/// The request conflicts with the current state; `code` says how.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:griddesk:problem:unit_in_use", "title": "Conflict", "status": 409,
        "detail": "The unit still has 3 child units, 1 posts, 0 residents and 0 tickets.", "code": "unit_in_use"})
)]
pub struct Conflict(ProblemDetails);

/// Too many requests of this kind: wait the seconds in `Retry-After`.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again")),
    example = json!({"type": "urn:griddesk:problem:too_many_login_attempts", "title": "Too Many Requests", "status": 429,
        "detail": "Too many failed sign-ins; wait before trying again.", "code": "too_many_login_attempts"})
)]
pub struct TooManyRequests(ProblemDetails);

/// `If-Match` names an older version: reload and retry.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:griddesk:problem:version_mismatch", "title": "Precondition Failed", "status": 412,
        "detail": "The ticket was changed meanwhile; it is now at version 4. Reload it and try again.",
        "code": "version_mismatch", "current_version": 4})
)]
pub struct PreconditionFailed(ProblemDetails);

/// The action is not possible in the ticket's status (`invalid_transition`,
/// with `current_status` and `allowed_actions`), the body's `version` names an
/// older version (`version_mismatch`, with `current_version`: reload and
/// retry), or the request conflicts otherwise.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:griddesk:problem:invalid_transition", "title": "Conflict", "status": 409,
        "detail": "`resolve` is not possible while the ticket is `assigned`; allowed now: accept, escalate, dispatch, return, withdraw, reject, refer, merge.",
        "code": "invalid_transition", "current_status": "assigned",
        "allowed_actions": ["accept", "escalate", "dispatch", "return", "withdraw", "reject", "refer", "merge"]})
)]
pub struct TransitionConflict(ProblemDetails);

/// The request body did not arrive in time (10 s unless configured): the
/// answer closes the connection. Any operation that takes a body may answer it.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:griddesk:problem:request_timeout", "title": "Request Timeout", "status": 408,
        "detail": "The request body did not arrive within 10 seconds.", "code": "request_timeout"})
)]
pub struct RequestTimeout(ProblemDetails);

/// The body is larger than the limit (64 KiB).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:griddesk:problem:payload_too_large", "title": "Payload Too Large", "status": 413,
        "detail": "The request body is larger than 65536 bytes.", "code": "payload_too_large"})
)]
pub struct PayloadTooLarge(ProblemDetails);

/// The body is not `application/json`.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:griddesk:problem:unsupported_media_type", "title": "Unsupported Media Type", "status": 415,
        "detail": "Send the request body as application/json.", "code": "unsupported_media_type"})
)]
pub struct UnsupportedMediaType(ProblemDetails);

/// Values that cannot be accepted, including unknown fields. `errors` lists
/// every problem at once: `field` as sent (`title`, `respondents[0].name`, a
/// query parameter, a header such as `Idempotency-Key`; `.` is the body
/// itself), `message` in the caller's language (show it by the field), and
/// a stable `code`. Each operation lists its codes by field below
/// (`x-field-codes`; `[]` stands for any index). What the app can do:
///
/// | `code` | what the app should do |
/// |---|---|
/// | `required`, `too_long`, `too_short`, `out_of_range`, `invalid_phone`, `invalid_username`, `invalid_code`, `control_characters`, `after_to`, `count` | The user's input: show `message` by the field and let them correct it. |
/// | `not_found` and the other codes of an id or code field | What the field names is not there for this caller, or not the right kind: reload the choices (units, categories, people) and pick again. |
/// | `invalid_value`, `unknown_field`, `repeated` | The request does not fit the document (a wrong type, an unknown key, a parameter given twice): a bug in the app, not the user's input. |
/// | `invalid_cursor` | The cursor is not one this list gave out: load the list again from the first page. |
/// | `reused` (`Idempotency-Key`) | The key was used with a different body within 24 hours: a new request needs a new key. |
/// | `disagrees_with_if_match` (`version`) | `version` and `If-Match` name different versions: send one of them. |
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:griddesk:problem:validation_failed", "title": "Unprocessable Content", "status": 422,
        "detail": "Some fields are invalid: password, phone.", "code": "validation_failed",
        "errors": [
            {"field": "password", "code": "too_short", "message": "The password needs at least 8 characters."},
            {"field": "phone", "code": "invalid_phone", "message": "Enter a mainland mobile number (11 digits starting with 1) or an international number like +85291234567."}
        ]})
)]
pub struct ValidationFailed(ProblemDetails);

/// The database does not answer. Wait the seconds in `Retry-After` and try
/// again.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again")),
    example = json!({"type": "urn:griddesk:problem:service_unavailable", "title": "Service Unavailable", "status": 503,
        "detail": "The database is not reachable. Please try again later.", "code": "service_unavailable"})
)]
pub struct Unavailable(ProblemDetails);

/// The server is busy: too many password checks are queued already
/// (`server_busy`), or the database does not answer (`service_unavailable`).
/// Wait the seconds in `Retry-After` and try again.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again")),
    example = json!({"type": "urn:griddesk:problem:server_busy", "title": "Service Unavailable", "status": 503,
        "detail": "The server is busy checking passwords; try again in a few seconds.", "code": "server_busy"})
)]
pub struct Busy(ProblemDetails);
