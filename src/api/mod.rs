//! HTTP handlers, one module per resource. Handlers stay thin: read input
//! into domain types, ask `policy`, call `db`, map rows into responses.

pub mod actions;
pub mod audit;
pub mod auth;
pub mod categories;
pub mod csv;
pub mod devices;
pub mod extensions;
pub mod health;
pub mod local_time;
pub mod me;
pub mod mediation;
pub mod notification_stream;
pub mod notifications;
pub mod openapi;
pub mod posts;
pub mod problems;
pub mod sla;
pub mod stats;
pub mod tickets;
pub mod token;
pub mod units;
pub mod unread_body;
pub mod users;
pub mod webhook_deliveries;
pub mod webhooks;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError, Invalid, Text};

/// A JSON answer (200) written into a buffer of `capacity` bytes reserved up
/// front: a page of tickets is tens of kilobytes, which `web::Json` reaches
/// by growing its buffer from 128 bytes, copying it each time.
pub struct SizedJson<T> {
    pub value: T,
    pub capacity: usize,
}

impl<T: serde::Serialize> actix_web::Responder for SizedJson<T> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> actix_web::HttpResponse {
        let mut body = Vec::with_capacity(self.capacity);
        match serde_json::to_writer(&mut body, &self.value) {
            Ok(()) => actix_web::HttpResponse::Ok()
                .content_type(header::ContentType::json())
                .body(body),
            Err(error) => actix_web::ResponseError::error_response(&ApiError::internal(error)),
        }
    }
}

/// Date-times exactly as the document says (`format: date-time`, RFC 3339).
///
/// In: chrono's `FromStr` would also take a space for `T` and years of fewer
/// than four digits. Use with `#[serde(deserialize_with = ...)]`.
///
/// Out: one form everywhere, whole seconds in UTC, `2026-11-30T08:15:02Z`
/// ([`FORM`]): the only RFC 3339 form that Swift's `ISO8601DateFormatter`
/// (and `JSONDecoder.dateDecodingStrategy = .iso8601`) reads without
/// `.withFractionalSeconds`, and one `java.time.Instant.parse`, kotlinx
/// `Instant.parse` and JavaScript's `Date.parse` read too. Every response
/// field takes `#[serde(serialize_with = "crate::api::rfc3339::to_json")]`.
/// Only the output is cut: the database keeps microseconds, so ordering,
/// cursors (ids) and ETags (versions) are untouched. The cut truncates, never
/// rounds up, so a time sent back as a lower bound (`updated_since`) can
/// only bring a row again, never skip one.
pub mod rfc3339;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Seconds a request body may take to arrive unless `--body-timeout` says otherwise.
pub const DEFAULT_BODY_TIMEOUT_SECONDS: u64 = 10;

/// Where the handlers are registered: the served application (plain
/// actix-web: nothing generated) or the OpenAPI document's (utoipa builds
/// each operation's description as it is registered). Building those
/// descriptions in every HTTP worker left some 5 MiB of heap behind in
/// each (DEVELOPERS.md, "Memory").
pub trait Routes {
    fn service<F>(&mut self, factory: F) -> &mut Self
    where
        F: actix_web::dev::HttpServiceFactory + utoipa_actix_web::OpenApiFactory + 'static;
}

impl Routes for web::ServiceConfig {
    fn service<F>(&mut self, factory: F) -> &mut Self
    where
        F: actix_web::dev::HttpServiceFactory + utoipa_actix_web::OpenApiFactory + 'static,
    {
        web::ServiceConfig::service(self, factory)
    }
}

impl Routes for utoipa_actix_web::service_config::ServiceConfig<'_> {
    fn service<F>(&mut self, factory: F) -> &mut Self
    where
        F: actix_web::dev::HttpServiceFactory + utoipa_actix_web::OpenApiFactory + 'static,
    {
        utoipa_actix_web::service_config::ServiceConfig::service(self, factory)
    }
}

/// Registers every API operation under `/api/v1`.
pub fn configure(cfg: &mut impl Routes) {
    auth::configure(cfg);
    token::configure(cfg);
    me::configure(cfg);
    devices::configure(cfg);
    notifications::configure(cfg);
    units::configure(cfg);
    posts::configure(cfg);
    users::configure(cfg);
    categories::configure(cfg);
    tickets::configure(cfg);
    actions::configure(cfg);
    sla::configure(cfg);
    extensions::configure(cfg);
    mediation::configure(cfg);
    stats::configure(cfg);
    audit::configure(cfg);
    webhooks::configure(cfg);
}

/// A JSON request body. Unlike `web::Json` it answers every failure as a
/// problem document: 415 for another content type, 413 over the limit,
/// 408 when the whole body has not arrived within `AppState::body_timeout`
/// (the head has its own timeout; this one bounds a body dribbled a byte
/// at a time), 400 for malformed JSON, 422 naming the field for wrong, missing or
/// unknown fields, and for U+0000 in any string or field name
/// (`control_characters`; PostgreSQL text cannot hold it).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = content_type_is(req, |essence| {
            essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
        });
        let body = read_body(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let bytes = body.await?;
            // Syntax first (400), then shape (422): a body that is not JSON at
            // all must not be reported as a missing field.
            let mut document: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| json_syntax_error(&e))?;
            integral_floats(&mut document);
            no_nul_in_json(&document)?;
            arrays_only_of_values(&document)?;
            let value = serde_path_to_error::deserialize(document).map_err(json_error)?;
            Ok(JsonBody(value))
        })
    }
}

/// Whether the request's media type (lower-cased, without parameters)
/// passes `accept`.
pub(crate) fn content_type_is(req: &HttpRequest, accept: impl Fn(&str) -> bool) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|essence| accept(&essence.trim().to_ascii_lowercase()))
        .unwrap_or(false)
}

/// The whole request body: 413 over the limit, 408 when it has not arrived
/// within `AppState::body_timeout` (the head has its own timeout; this one
/// bounds a body dribbled a byte at a time), 400 when it cannot be read.
pub(crate) fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl std::future::Future<Output = Result<web::Bytes, ApiError>> + 'static {
    let timeout = req
        .app_data::<web::Data<crate::state::AppState>>()
        .map_or(std::time::Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECONDS), |state| {
            state.body_timeout
        });
    let body = web::Bytes::from_request(req, payload);
    async move {
        actix_web::rt::time::timeout(timeout, body)
            .await
            .map_err(|_| ApiError::RequestTimeout {
                seconds: timeout.as_secs().max(1),
            })?
            .map_err(|error| match error.as_error::<actix_web::error::PayloadError>() {
                Some(actix_web::error::PayloadError::Overflow) => ApiError::PayloadTooLarge { limit: BODY_LIMIT },
                _ => ApiError::BadRequest {
                    code: "unreadable_body",
                    detail: Text::new("The request body could not be read.", "无法读取请求体。"),
                },
            })
    }
}

/// JSON Schema counts `5.0` as an integer; so do we: integral floats become
/// integers before the body meets the types.
fn integral_floats(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64())
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                #[allow(clippy::cast_possible_truncation)]
                let int = f as i64;
                *value = Value::from(int);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats),
        Value::Object(fields) => fields.values_mut().for_each(integral_floats),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// A field that holds U+0000. PostgreSQL text cannot store it (a query
/// that carries it fails), so no string with it gets past the extractors:
/// one refusal for every field, query parameter and backend.
fn nul_field(field: &str) -> FieldError {
    FieldError::new(
        field.replace('\0', "\\u0000"),
        "control_characters",
        Text::new("Control characters are not allowed.", "不能包含控制字符。"),
    )
}

/// Refuses a JSON document with U+0000 in any string or field name,
/// naming each field as serde would (`respondents[0].name`).
fn no_nul_in_json(document: &serde_json::Value) -> Result<(), ApiError> {
    use serde_json::Value;
    fn walk(value: &Value, path: &str, found: &mut Vec<FieldError>) {
        match value {
            Value::String(text) if text.contains('\0') => {
                found.push(nul_field(if path.is_empty() { "." } else { path }))
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), found);
                }
            }
            Value::Object(fields) => {
                for (name, item) in fields {
                    let path = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    if name.contains('\0') {
                        found.push(nul_field(&path));
                    } else {
                        walk(item, &path, found);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }
    let mut found = Vec::new();
    walk(document, "", &mut found);
    if found.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(found))
    }
}

/// Refuses a query string with U+0000 in any parameter's name or value
/// (percent-encoded as `%00`), whether or not the operation reads it.
fn no_nul_in_query(query: &str) -> Result<(), ApiError> {
    let found: Vec<FieldError> = form_urlencoded::parse(query.as_bytes())
        .filter(|(name, value)| name.contains('\0') || value.contains('\0'))
        .map(|(name, _)| nul_field(&name))
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(found))
    }
}

/// Every request body is an object (or `null` where the body may be left
/// out), and no array holds arrays: the places where our types take objects.
/// Serde would otherwise read a struct from an array of its fields in order
/// (`[null, null]` as an empty edit), which the document does not allow.
fn arrays_only_of_values(document: &serde_json::Value) -> Result<(), ApiError> {
    use serde_json::Value;
    let not_object = |field: String| {
        ApiError::Validation(vec![FieldError::new(
            field,
            "invalid_value",
            Text::new("Expected a JSON object here.", "此处应为 JSON 对象。"),
        )])
    };
    match document {
        Value::Object(fields) => fields.iter().try_for_each(|(name, value)| match value {
            Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| match item {
                Value::Array(_) => Err(not_object(format!("{name}[{i}]"))),
                _ => Ok(()),
            }),
            _ => Ok(()),
        }),
        Value::Null => Ok(()),
        _ => Err(not_object(".".to_owned())),
    }
}

fn json_syntax_error(error: &serde_json::Error) -> ApiError {
    ApiError::BadRequest {
        code: "malformed_json",
        detail: Text::owned(
            format!("The body is not valid JSON: {error}."),
            format!("请求体不是有效的 JSON：{error}。"),
        ),
    }
}

fn json_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    ApiError::Validation(vec![field_error_from_serde(&path, &inner.to_string())])
}

/// Turns a serde message into a field error; serde names missing and
/// unknown fields only in its message, between backticks.
fn field_error_from_serde(path: &str, message: &str) -> FieldError {
    let quoted = message.split('`').nth(1).unwrap_or_default();
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if message.starts_with("unknown field") {
        FieldError::new(
            join(quoted),
            "unknown_field",
            Text::new("This field is not accepted here.", "不接受此字段。"),
        )
    } else if message.starts_with("missing field") {
        FieldError::new(
            join(quoted),
            "required",
            Text::new("This field is required.", "此项为必填。"),
        )
    } else if message.starts_with("duplicate field") {
        // A query parameter given twice (`?limit=5&limit=6`).
        FieldError::new(
            join(quoted),
            "repeated",
            Text::new("Give this parameter once.", "此参数只能出现一次。"),
        )
    } else {
        let detail = message.split(" at line ").next().unwrap_or(message).to_owned();
        FieldError::new(
            if path.is_empty() {
                ".".to_owned()
            } else {
                path.to_owned()
            },
            "invalid_value",
            Text::owned(format!("Invalid value: {detail}."), zh_reason(&detail)),
        )
    }
}

/// What serde's (English) message means, said in Chinese without the
/// parser's words: the Chinese detail is read by residents and staff.
fn zh_reason(message: &str) -> String {
    let expects = |what: &str| message.contains(&format!("expected {what}"));
    if message.starts_with("unknown variant") {
        // "unknown variant `open`, expected one of `urgent`, `normal`, `low`"
        let allowed: Vec<&str> = message.split('`').skip(1).step_by(2).skip(1).collect();
        if allowed.is_empty() {
            "取值不在允许范围内。".to_owned()
        } else {
            format!("取值不在允许范围内，可选：{}。", allowed.join("、"))
        }
    } else if message.contains("RFC 3339") {
        "应为 RFC 3339 日期时间，例如 2026-11-28T08:00:00Z。".to_owned()
    } else if message.contains("invalid digit")
        || message.contains("number too")
        || message.contains("cannot parse integer")
        || ["i64", "i32", "i16", "u64", "u32", "u16", "u8", "an integer"]
            .iter()
            .any(|t| expects(t))
    {
        "应为整数。".to_owned()
    } else if message.contains("`true` or `false`") || expects("a boolean") {
        "应为 true 或 false。".to_owned()
    } else if message.contains("invalid float") || expects("f64") || expects("f32") {
        "应为数字。".to_owned()
    } else if expects("a string") || expects("a borrowed string") {
        "应为字符串。".to_owned()
    } else if expects("a sequence") {
        "应为数组。".to_owned()
    } else if expects("struct") || expects("a map") {
        "应为 JSON 对象。".to_owned()
    } else {
        "取值或类型不正确。".to_owned()
    }
}

/// Query parameters, answered like [`JsonBody`]: 422 naming the parameter,
/// also for a `%00` in any parameter's name or value.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let query = req.query_string();
        if let Err(error) = no_nul_in_query(query) {
            return std::future::ready(Err(error));
        }
        let joined = join_list_parameters(query);
        let query = joined.as_deref().unwrap_or(query);
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        std::future::ready(
            serde_path_to_error::deserialize(deserializer)
                .map(QueryParams)
                .map_err(|error| {
                    let path = error.path().to_string();
                    let message = error.into_inner().to_string();
                    ApiError::Validation(vec![field_error_from_serde(&path, &message)])
                }),
        )
    }
}

/// Query parameters that take a list. The document names the comma form
/// (`status=assigned,accepted`); the repeated form that many generated
/// clients send by default (`status=assigned&status=accepted`) means the
/// same. Any other parameter given twice is refused (`repeated`).
const LIST_PARAMETERS: &[&str] = &["status"];

/// The query with each list parameter's repeats joined into one
/// comma-separated value, or `None` when nothing repeats.
fn join_list_parameters(query: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let repeats = |name: &str| pairs.iter().filter(|(key, _)| key == name).count() > 1;
    if !LIST_PARAMETERS.iter().any(|name| repeats(name)) {
        return None;
    }
    let mut joined: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        match joined.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) if LIST_PARAMETERS.contains(&key.as_str()) => {
                values.push(',');
                values.push_str(&value);
            }
            _ => joined.push((key, value)),
        }
    }
    Some(
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(joined)
            .finish(),
    )
}

/// `deserialize_with` for a comma-separated list of statuses
/// (`status=assigned,accepted`), each named once or more; an empty item or
/// an unknown status is refused, naming the parameter. An empty value is
/// no filter.
pub fn statuses<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<crate::domain::ticket::Status>>, D::Error> {
    use crate::domain::ticket::Status;
    use serde::Deserialize;
    use serde::de::Error;
    // `status=` is how a form (or a client with an empty array) says
    // "whatever the status": no filter.
    let Some(text) = Option::<String>::deserialize(d)?.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let mut statuses = Vec::new();
    for item in text.split(',').map(str::trim) {
        let status = Status::parse(item).ok_or_else(|| D::Error::unknown_variant(item, &Status::NAMES))?;
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    Ok(Some(statuses))
}

/// Keyset pagination over ascending ids: `limit` (1–100, default 50) and an
/// opaque `cursor` from the previous page's `next_cursor`.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: i64,
    pub after_id: Option<i64>,
}

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 100;

impl PageRequest {
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let mut v = crate::error::Validator::default();
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            v.push(
                "limit",
                Invalid::new(
                    "out_of_range",
                    "`limit` must be between 1 and 100.",
                    "limit 须在 1 到 100 之间。",
                ),
            );
        }
        let after_id = match cursor {
            None | Some("") => None,
            Some(cursor) => {
                let id = decode_cursor(cursor);
                if id.is_none() {
                    v.push(
                        "cursor",
                        Invalid::new(
                            "invalid_cursor",
                            "Use a `next_cursor` value from a previous page.",
                            "请使用上一页返回的 next_cursor。",
                        ),
                    );
                }
                id
            }
        };
        v.finish()?;
        Ok(Self { limit, after_id })
    }

    /// Rows to fetch: one more than a page, to learn whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts the extra row and returns the cursor of the next page, if any.
    pub fn finish<T>(&self, mut rows: Vec<T>, id_of: impl Fn(&T) -> i64) -> (Vec<T>, Option<String>) {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        if rows.len() > limit {
            rows.truncate(limit);
            let next = rows.last().map(|row| encode_cursor(id_of(row)));
            (rows, next)
        } else {
            (rows, None)
        }
    }
}

fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("id:")?.parse().ok()
}

/// Parses an optional trimmed search text of at most 100 characters.
pub fn search_text(field: &str, q: Option<&str>, v: &mut crate::error::Validator) -> Option<String> {
    let q = q.map(str::trim).filter(|q| !q.is_empty())?;
    if q.chars().count() > 100 {
        v.push(
            field,
            Invalid::new("too_long", "At most 100 characters.", "最多 100 个字符。"),
        );
        return None;
    }
    Some(q.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_floats_become_integers_and_others_stay() {
        let mut doc =
            serde_json::json!({"rating": 5.0, "nested": [2.0, 2.5, -3.0], "lat": 26.07, "big": 1e300, "s": "1.0"});
        integral_floats(&mut doc);
        assert_eq!(
            doc,
            serde_json::json!({"rating": 5, "nested": [2, 2.5, -3], "lat": 26.07, "big": 1e300, "s": "1.0"})
        );
    }

    #[test]
    fn nul_is_refused_in_any_string_naming_the_field() {
        let fields = |result: Result<(), ApiError>| match result {
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
            other => panic!("{other:?}"),
        };
        let doc = serde_json::json!({"title": "a\u{0}", "ok": "b", "respondents": [{"name": "c"}, {"name": "\u{0}"}],
            "x\u{0}": 1, "n": 5});
        let found: Vec<(String, &str)> = fields(no_nul_in_json(&doc));
        assert_eq!(
            found,
            [
                ("respondents[1].name".to_owned(), "control_characters"),
                ("title".to_owned(), "control_characters"),
                ("x\\u0000".to_owned(), "control_characters"),
            ]
        );
        assert!(no_nul_in_json(&serde_json::json!({"title": "一\t二", "list": [1, "x"]})).is_ok());
        let found: Vec<(String, &str)> = fields(no_nul_in_query("q=a%00b&limit=5&%00=1&c=\0"));
        assert_eq!(
            found.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
            ["q", "\\u0000", "c"]
        );
        assert!(no_nul_in_query("q=%E5%99%AA&limit=5").is_ok());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("garbage"), None);
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(101), None).is_err());
        assert!(PageRequest::parse(None, Some("!!")).is_err());
        let page = PageRequest::parse(Some(2), None).unwrap();
        let (rows, next) = page.finish(vec![1, 2, 3], |r| *r);
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(next.as_deref().and_then(decode_cursor), Some(2));
        let (rows, next) = page.finish(vec![1, 2], |r| *r);
        assert_eq!((rows.len(), next), (2, None));
    }

    #[test]
    fn serde_messages_name_the_field() {
        let unknown = field_error_from_serde(".", "unknown field `role`, expected one of `name`, `code`");
        assert_eq!((unknown.field.as_str(), unknown.code), ("role", "unknown_field"));
        let unknown = field_error_from_serde("role", "unknown field `role`, expected one of `name`, `code`");
        assert_eq!(unknown.field, "role");
        let missing = field_error_from_serde(".", "missing field `name` at line 1 column 2");
        assert_eq!((missing.field.as_str(), missing.code), ("name", "required"));
        let wrong = field_error_from_serde(
            "parent_id",
            "invalid type: string \"x\", expected i64 at line 1 column 20",
        );
        assert_eq!((wrong.field.as_str(), wrong.code), ("parent_id", "invalid_value"));
        assert_eq!(wrong.message.zh, "应为整数。");
        let variant = field_error_from_serde("priority", "unknown variant `open`, expected one of `urgent`, `low`");
        assert_eq!(variant.message.zh, "取值不在允许范围内，可选：urgent、low。");
        let repeated = field_error_from_serde(".", "duplicate field `limit`");
        assert_eq!((repeated.field.as_str(), repeated.code), ("limit", "repeated"));
    }
}
