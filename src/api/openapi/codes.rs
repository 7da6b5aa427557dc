//! What each operation's problem answers may carry, written into its
//! document: the problem `code`s of every problem response and, in a 422,
//! the field codes of `errors[].code` by field. A generated client can
//! switch on them; schemathesis and `tests/api/support.rs` hold every
//! answer to them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

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

/// A field key that stands for any field (a name the client made up, a
/// nested one, `.` for the body itself).
const ANY_FIELD: &str = "*";

/// Every problem response of an operation names the `code`s it can carry:
/// the shared response is copied into the operation with `code` narrowed to
/// an enum. A 422 also narrows `errors[].code` to the field codes the
/// operation can answer ([`field_codes`]), lists them by field in
/// `x-field-codes` and in its description. Codes declared for a status the
/// operation does not document stay in `x-problem-codes` (or
/// `x-field-codes` on the operation), where a test finds them.
pub(super) fn document_problem_codes(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut value) = serde_json::to_value(&doc) else {
        return doc;
    };
    let components = value["components"]["responses"].clone();
    let schemas = value["components"]["schemas"].clone();
    let Some(paths) = value["paths"].as_object_mut() else {
        return doc;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut().filter_map(Value::as_object_mut) {
            let mut extra = match op.remove("x-problem-codes") {
                Some(Value::Object(extra)) => extra,
                _ => Map::new(),
            };
            // `If-Match` is read by one parser for every action.
            if has_parameter(op, "header", "If-Match") {
                add_codes(&mut extra, "400", &["invalid_if_match"]);
            }
            let declared = match op.remove("x-field-codes") {
                Some(Value::Object(declared)) => declared,
                _ => Map::new(),
            };
            let fields = field_codes(op, &schemas, &declared);
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let mut fields_documented = false;
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
                let mut own = json!({"type": "object", "required": ["code"], "properties": {"code": {"type": "string", "enum": codes}}});
                if name == "ValidationFailed" {
                    fields_documented = true;
                    document_field_codes(&mut inline, &mut own, &fields, &declared);
                }
                let content = &mut inline["content"]["application/problem+json"];
                content["schema"] = json!({"allOf": [{"$ref": "#/components/schemas/ProblemDetails"}, own]});
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
            if !fields_documented && !declared.is_empty() {
                op.insert("x-field-codes".to_owned(), Value::Object(declared));
            }
        }
    }
    serde_json::from_value(value).unwrap_or(doc)
}

fn add_codes(extra: &mut Map<String, Value>, status: &str, codes: &[&str]) {
    let list = extra.entry(status.to_owned()).or_insert_with(|| json!([]));
    if let Value::Array(list) = list {
        for code in codes {
            if !list.contains(&json!(code)) {
                list.push(json!(code));
            }
        }
    }
}

fn has_parameter(op: &Map<String, Value>, place: &str, name: &str) -> bool {
    op.get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == place && p["name"] == name))
}

/// The field codes an operation's 422 can carry, by field as the server
/// names it (an index as `[]`: `respondents[].name`; [`ANY_FIELD`] for any
/// field): what the handler declares next to its responses,
/// `extensions(("x-field-codes" = json!({"title": ["too_long"]})))`, plus
/// what the shared extractors answer for the body, query and headers the
/// operation documents, so no handler lists those:
///
/// - a JSON body (`JsonBody`): `invalid_value` for a value of the wrong
///   type or range of its type, an unknown enum value, or a body that is no
///   object; `control_characters` for U+0000 in any string or name;
///   `unknown_field` where the body's objects refuse other keys;
///   `required` for each key the document requires;
/// - query parameters (`QueryParams`): `control_characters` for U+0000 in
///   any name or value; `repeated` for each parameter given twice;
///   `invalid_value` for each that is not free text; `required` for each
///   the document requires; `limit` and `cursor` are read by
///   `PageRequest` (`out_of_range`, `invalid_cursor`);
/// - `If-Match` with a body `version`: `disagrees_with_if_match`.
fn field_codes(
    op: &Map<String, Value>,
    schemas: &Value,
    declared: &Map<String, Value>,
) -> BTreeMap<String, Vec<String>> {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |field: &str, codes: &[&str]| {
        let list = fields.entry(field.to_owned()).or_default();
        for code in codes {
            if !list.iter().any(|c| c == code) {
                list.push((*code).to_owned());
            }
        }
    };
    let body = &op.get("requestBody").unwrap_or(&Value::Null)["content"]["application/json"]["schema"];
    if !body.is_null() {
        add(ANY_FIELD, &["invalid_value", "control_characters"]);
        let mut shape = Shape::default();
        shape.read(body, schemas, "", 0);
        if shape.closed {
            add(ANY_FIELD, &["unknown_field"]);
        }
        for field in &shape.required {
            add(field, &["required"]);
        }
        if shape.properties.iter().any(|p| p == "version") && has_parameter(op, "header", "If-Match") {
            add("version", &["disagrees_with_if_match"]);
        }
    }
    let query = op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query");
    for (i, parameter) in query.enumerate() {
        if i == 0 {
            add(ANY_FIELD, &["control_characters"]);
        }
        let name = parameter["name"].as_str().unwrap_or_default();
        let schema = &parameter["schema"];
        // A list parameter given twice is one list (`api::LIST_PARAMETERS`).
        if schema["type"] != "array" {
            add(name, &["repeated"]);
        }
        let free_text = schema["type"] == "string" && schema.get("format").is_none() && schema.get("enum").is_none();
        if !free_text {
            add(name, &["invalid_value"]);
        }
        if parameter["required"] == true {
            add(name, &["required"]);
        }
        // Every list reads these two with `PageRequest::parse`
        // (tests/api/field_codes.rs sends both to each).
        match name {
            "limit" => add(name, &["out_of_range"]),
            "cursor" => add(name, &["invalid_cursor"]),
            _ => {}
        }
    }
    for (field, codes) in declared {
        let codes: Vec<&str> = codes
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        add(field, &codes);
    }
    fields
}

/// What a request body's schema says of its fields.
#[derive(Default)]
struct Shape {
    /// Whether some object of it refuses keys it does not name.
    closed: bool,
    /// Required keys, as field paths (`rules[].accept_hours`).
    required: Vec<String>,
    /// The top-level keys.
    properties: Vec<String>,
}

impl Shape {
    /// Reads `schema` found at `path`, following `$ref`s. Of alternatives
    /// (`oneOf`), a key is required when every alternative requires it.
    fn read(&mut self, schema: &Value, schemas: &Value, path: &str, depth: usize) {
        // Bodies nest a few levels; the bound only guards against a cycle.
        if depth > 8 {
            return;
        }
        if let Some(name) = schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            return self.read(&schemas[name], schemas, path, depth + 1);
        }
        if schema["additionalProperties"] == false {
            self.closed = true;
        }
        if let Some(alternatives) = schema["oneOf"].as_array().or_else(|| schema["anyOf"].as_array()) {
            let mut common: Option<Vec<String>> = None;
            for alternative in alternatives {
                let mut inner = Shape::default();
                inner.read(alternative, schemas, path, depth + 1);
                self.closed |= inner.closed;
                if path.is_empty() {
                    self.properties.extend(inner.properties);
                }
                common = Some(match common {
                    None => inner.required,
                    Some(common) => common.into_iter().filter(|f| inner.required.contains(f)).collect(),
                });
            }
            self.required.extend(common.unwrap_or_default());
        }
        let join = |name: &str| {
            if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        };
        for name in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            self.required.push(join(name));
        }
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            if path.is_empty() {
                self.properties.push(name.clone());
            }
            self.read(property, schemas, &join(name), depth + 1);
        }
        if let Some(items) = schema.get("items") {
            self.read(items, schemas, &format!("{path}[]"), depth + 1);
        }
    }
}

/// Narrows a 422 (copied from `ValidationFailed`) to `fields`: `errors` is
/// there (`own`, the response's own `allOf` member), with every `code` one
/// of theirs; the map goes into `x-field-codes` and, as a table, into the
/// description; the example keeps only errors the operation can answer.
fn document_field_codes(
    response: &mut Value,
    own: &mut Value,
    fields: &BTreeMap<String, Vec<String>>,
    declared: &Map<String, Value>,
) {
    let mut all: Vec<&str> = Vec::new();
    for code in fields.values().flatten() {
        if !all.contains(&code.as_str()) {
            all.push(code);
        }
    }
    let mut table = String::from("\n\n| field 字段 | `code` |\n|---|---|\n");
    for (field, codes) in fields {
        let field = if field == ANY_FIELD {
            "any field 任一字段".to_owned()
        } else {
            format!("`{field}`")
        };
        let codes: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
        table.push_str(&format!("| {field} | {} |\n", codes.join(", ")));
    }
    if let Some(description) = response["description"].as_str() {
        response["description"] = json!(format!("{description}{}", table.trim_end()));
    }
    response["x-field-codes"] = json!(fields);
    let example = &mut response["content"]["application/problem+json"]["example"];
    let fits = |e: &Value| {
        let (Some(field), Some(code)) = (e["field"].as_str(), e["code"].as_str()) else {
            return false;
        };
        [field, ANY_FIELD]
            .iter()
            .any(|f| fields.get(*f).is_some_and(|codes| codes.iter().any(|c| c == code)))
    };
    let mut errors: Vec<Value> = example["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| fits(e))
        .cloned()
        .collect();
    // Else one of the handler's own codes (the telling ones), or a named
    // field's.
    let handlers = declared
        .iter()
        .filter_map(|(f, codes)| Some((f, codes.as_array()?.first()?.as_str()?)));
    let named = fields.iter().filter(|(f, _)| *f != ANY_FIELD);
    let any = named
        .chain(fields.iter())
        .filter_map(|(f, codes)| Some((f, codes.first()?.as_str())));
    if errors.is_empty()
        && let Some((field, code)) = handlers.chain(any).next()
    {
        let field = if field == ANY_FIELD { "." } else { field.as_str() };
        errors.push(json!({"field": field, "code": code, "message": format!("See `{code}` in the description.")}));
    }
    let named: Vec<&str> = errors.iter().filter_map(|e| e["field"].as_str()).collect();
    example["detail"] = json!(format!("Some fields are invalid: {}.", named.join(", ")));
    example["errors"] = json!(errors);
    if let Some(required) = own["required"].as_array_mut() {
        required.push(json!("errors"));
    }
    own["properties"]["errors"] = json!({"type": "array", "minItems": 1, "items": {"allOf": [
        {"$ref": "#/components/schemas/FieldProblem"},
        {"type": "object", "required": ["code"], "properties": {"code": {"type": "string", "enum": all}}},
    ]}});
}
