//! The OpenAPI document: its header, tags, security scheme and shared
//! components. Paths are collected from the handlers by utoipa-actix-web.

use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi};

use super::problems::*;
use crate::error::{FieldProblem, ProblemDetails};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "griddesk",
        description = "Resident request desk for urban residential communities. Residents file complaints \
and neighbour disputes; each ticket is routed through the community's four-level grid \
(committee 社区党委 > branch 小区党支部 > building 楼栋党小组 > household 党员中心户).\n\n\
**Try it:** call `POST /api/v1/auth/login`, copy `access_token`, press *Authorize* and paste it.\n\n\
**Errors** are RFC 9457 `application/problem+json` with a stable `code`; validation errors (422) list \
each field in `errors`. Send `Accept-Language: zh-CN` for Chinese messages.\n\n\
**Lists** use cursor pagination: pass `next_cursor` back as `cursor`.\n\n\
**Times** the API writes are RFC 3339 in UTC to the whole second, `2026-11-30T08:15:02Z`, \
in every JSON field and CSV file: the one form that Swift's `ISO8601DateFormatter` (`JSONDecoder`'s \
`.iso8601`), Kotlin's `Instant.parse` and JavaScript's `Date` all read with their defaults. Fractions are \
cut, never rounded up, so a time sent back as a lower bound (`updated_since`) never skips a change. Times \
you send may carry any offset and fractions.\n\n\
**Privacy:** anything you may not see answers 404; phone numbers are masked except for the person, \
admins and committee-level staff.",
        license(name = "MIT OR Apache-2.0"),
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "auth", description = "Registration, sign-in, token refresh, sign-out."),
        (name = "me", description = "The signed-in caller's own account."),
        (name = "units", description = "The four-level grid (四级网络): committees, branches, buildings, households."),
        (name = "posts", description = "Posts tie staff accounts to grid units; a post's scope is the unit's subtree."),
        (name = "users", description = "Accounts, for admins and staff."),
        (name = "categories", description = "The catalogue of complaint and dispute categories, with entry levels and deadlines."),
        (name = "tickets", description = "Complaints (投诉/诉求) and neighbour disputes (矛盾纠纷): filing, reading, timeline, comments."),
        (name = "lifecycle", description = "What happens to a ticket: sign for, resolve, escalate, dispatch, return, reopen, close, withdraw, reject, refer, merge."),
        (name = "deadlines", description = "Deadline rules (时限): hours to sign for and to resolve, per level, category and priority."),
        (name = "mediation", description = "People's mediation of disputes (人民调解): parties, sessions, the agreement (调解协议) and follow-up visits (履行回访)."),
        (name = "statistics", description = "What a committee reports: counts, where tickets are resolved, speed, breaches, ratings."),
        (name = "audit", description = "The append-only audit trail of staff and admin writes and admin reads of personal data."),
        (name = "health", description = "Liveness and readiness probes."),
    ),
    components(
        schemas(ProblemDetails, FieldProblem),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, RequestTimeout, PayloadTooLarge,
            UnsupportedMediaType, ValidationFailed, Unavailable, Busy, PreconditionFailed, TransitionConflict, TooManyRequests,
            WrongPassword, SignInFailed, RefreshRefused),
    )
)]
pub struct ApiDoc;

/// Registers the bearer scheme, so Swagger UI shows a working "Authorize".
struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The `access_token` from `POST /api/v1/auth/login`."))
                    .build(),
            ),
        );
    }
}

/// The last touches on the generated document. A body that may be left out
/// (`Option<T>` in a handler) is optional, not `null`: utoipa writes it as
/// `oneOf: [T, null]`, and the server reads only an object or nothing.
/// Every operation that takes a body may answer 408: `JsonBody` reads all
/// bodies under one deadline, so the document says it once, here.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for op in operations.into_iter().flatten().filter(|op| op.request_body.is_some()) {
            op.responses
                .responses
                .entry("408".to_owned())
                .or_insert_with(|| RefOr::Ref(utoipa::openapi::Ref::from_response_name("RequestTimeout")));
        }
    }
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        let bodies = operations
            .into_iter()
            .flatten()
            .filter_map(|op| op.request_body.as_mut());
        for body in bodies.filter_map(|b| match b {
            RefOr::T(body) => Some(body),
            RefOr::Ref(_) => None,
        }) {
            if body.required == Some(Required::True) {
                continue;
            }
            for content in body.content.values_mut().filter_map(|c| match c {
                RefOr::T(content) => Some(content),
                RefOr::Ref(_) => None,
            }) {
                if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema
                    && let [object @ RefOr::Ref(_), RefOr::T(Schema::Object(null))] = one_of.items.as_slice()
                    && null.schema_type == SchemaType::Type(Type::Null)
                {
                    content.schema = Some(object.clone());
                }
            }
        }
    }
    require_every_answer_key(&mut doc);
    document_problem_codes(doc)
}

/// The `code`s a shared problem response stands for, whatever the
/// operation. An operation adds its own per status with
/// `extensions(("x-problem-codes" = json!({"409": ["username_taken"]})))`.
const COMPONENT_CODES: &[(&str, &[&str])] = &[
    ("BadRequest", &["malformed_json", "unreadable_body"]),
    (
        "Unauthorized",
        &[
            "missing_token",
            "invalid_token",
            "token_expired",
            "session_ended",
            "account_disabled",
        ],
    ),
    ("SignInFailed", &["invalid_credentials", "account_disabled"]),
    ("RefreshRefused", &["invalid_refresh_token", "refresh_token_reused"]),
    ("Forbidden", &["forbidden"]),
    ("WrongPassword", &["wrong_password"]),
    ("NotFound", &["not_found"]),
    ("Conflict", &[]),
    ("TransitionConflict", &["invalid_transition", "version_mismatch"]),
    ("PreconditionFailed", &["version_mismatch"]),
    ("RequestTimeout", &["request_timeout"]),
    ("PayloadTooLarge", &["payload_too_large"]),
    ("UnsupportedMediaType", &["unsupported_media_type"]),
    ("ValidationFailed", &["validation_failed"]),
    ("TooManyRequests", &[]),
    ("Unavailable", &["service_unavailable"]),
    ("Busy", &["server_busy", "service_unavailable"]),
];

/// Every problem response of an operation names the `code`s it can carry:
/// the shared response is copied into the operation with `code` narrowed to
/// an enum (what a generated client can switch on, and what schemathesis
/// and `tests/api/support.rs` hold every answer to). Codes an operation
/// declares for a status it does not document stay in `x-problem-codes`,
/// where a test finds them.
fn document_problem_codes(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use serde_json::{Value, json};
    let Ok(mut value) = serde_json::to_value(&doc) else {
        return doc;
    };
    let components = value["components"]["responses"].clone();
    let Some(paths) = value["paths"].as_object_mut() else {
        return doc;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut().filter_map(Value::as_object_mut) {
            let mut extra = match op.remove("x-problem-codes") {
                Some(Value::Object(extra)) => extra,
                _ => Default::default(),
            };
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let Some(name) = response["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/responses/"))
                else {
                    continue;
                };
                let Some((_, shared)) = COMPONENT_CODES.iter().find(|(n, _)| *n == name) else {
                    continue;
                };
                let mut codes: Vec<Value> = shared.iter().map(|c| json!(c)).collect();
                for code in extra
                    .remove(status)
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default()
                {
                    if !codes.contains(&code) {
                        codes.push(code);
                    }
                }
                let mut inline = components[name].clone();
                let content = &mut inline["content"]["application/problem+json"];
                content["schema"] = json!({"allOf": [
                    {"$ref": "#/components/schemas/ProblemDetails"},
                    {"type": "object", "required": ["code"], "properties": {"code": {"type": "string", "enum": codes}}},
                ]});
                // The shared example, unless its code is not one of these.
                let example_fits = content["example"]["code"]
                    .as_str()
                    .is_some_and(|c| codes.contains(&json!(c)));
                if !example_fits && let Some(first) = codes.first().and_then(Value::as_str) {
                    content["example"]["code"] = json!(first);
                    content["example"]["type"] = json!(format!("urn:griddesk:problem:{first}"));
                    content["example"]["detail"] = json!(format!("See `{first}` in the description."));
                }
                *response = inline;
            }
            if !extra.is_empty() {
                op.insert("x-problem-codes".to_owned(), Value::Object(extra));
            }
        }
    }
    serde_json::from_value(value).unwrap_or(doc)
}

/// Keys of an answer that serde leaves out when empty (`skip_serializing_if`);
/// every other key of every answer is always there, `null` or not.
const MAY_BE_ABSENT: &[(&str, &str)] = &[
    ("UnitResponse", "code"),
    ("UnitResponse", "created_at"),
    ("UnitResponse", "updated_at"),
    ("UnitNode", "code"),
    ("ProblemDetails", "errors"),
    ("ProblemDetails", "current_status"),
    ("ProblemDetails", "allowed_actions"),
    ("ProblemDetails", "current_version"),
];

/// utoipa leaves `Option<T>` fields out of `required`. Right for a request
/// body (the key may be left out), wrong for an answer: serde writes `null`,
/// and a typed client should not have to handle a missing key. So every
/// object schema used only by answers lists all its keys as required, except
/// those in [`MAY_BE_ABSENT`]. Schemas that requests use too stay as they are.
fn require_every_answer_key(doc: &mut utoipa::openapi::OpenApi) {
    use std::collections::BTreeSet;

    fn refs(value: &serde_json::Value, found: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(fields) => {
                for (key, item) in fields {
                    match (key.as_str(), item.as_str()) {
                        ("$ref", Some(target)) => {
                            if let Some(name) = target.strip_prefix("#/components/schemas/") {
                                found.insert(name.to_owned());
                            }
                        }
                        _ => refs(item, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
            _ => {}
        }
    }
    fn json(value: &impl serde::Serialize) -> serde_json::Value {
        serde_json::to_value(value).unwrap_or_default()
    }
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let schemas: std::collections::BTreeMap<String, serde_json::Value> = components
        .schemas
        .iter()
        .map(|(name, schema)| (name.clone(), json(schema)))
        .collect();
    let close = |mut names: BTreeSet<String>| {
        let mut todo: Vec<String> = names.iter().cloned().collect();
        while let Some(name) = todo.pop() {
            let mut found = BTreeSet::new();
            if let Some(schema) = schemas.get(&name) {
                refs(schema, &mut found);
            }
            for name in found {
                if names.insert(name.clone()) {
                    todo.push(name);
                }
            }
        }
        names
    };
    let (mut asked, mut answered) = (BTreeSet::new(), BTreeSet::new());
    for item in doc.paths.paths.values() {
        let operations = [&item.get, &item.post, &item.put, &item.patch, &item.delete];
        for op in operations.into_iter().flatten() {
            refs(&json(&op.request_body), &mut asked);
            refs(&json(&op.parameters), &mut asked);
            refs(&json(&op.responses), &mut answered);
        }
    }
    refs(&json(&components.responses), &mut answered);
    let asked = close(asked);
    for name in close(answered).difference(&asked) {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) {
            let missing: Vec<String> = object
                .properties
                .keys()
                .filter(|key| !object.required.contains(key))
                .filter(|key| !MAY_BE_ABSENT.contains(&(name.as_str(), key.as_str())))
                .cloned()
                .collect();
            object.required.extend(missing);
        }
    }
}
