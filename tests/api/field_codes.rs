//! The field codes of 422 answers (`errors[].code`) are documented per
//! operation and field (`api::openapi::codes`): every code the source can
//! answer is listed somewhere, every list is whole, and what the document
//! says the shared extractors answer, they answer. Every 422 any test
//! receives is held to its operation's list in `support::problem_codes`.

use std::collections::BTreeSet;

use awc::http::Method;
use serde_json::{Value, json};

use crate::support::{Res, TestApp};

fn document() -> Value {
    serde_json::from_str(&griddesk::openapi_json()).unwrap()
}

/// Every 422 carries `errors`, each code one of the enum; the enum is the
/// codes `x-field-codes` lists by field, and the example fits them.
#[test]
fn every_422_lists_its_field_codes_by_field() {
    let doc = document();
    let mut answers = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            assert!(
                op.get("x-field-codes").is_none(),
                "{name}: field codes declared, but it documents no 422: {}",
                op["x-field-codes"]
            );
            let response = &op["responses"]["422"];
            if response.is_null() {
                continue;
            }
            answers += 1;
            let own = &response["content"]["application/problem+json"]["schema"]["allOf"][1];
            assert!(own["required"].as_array().unwrap().contains(&json!("errors")), "{name}");
            let errors = &own["properties"]["errors"];
            assert_eq!(errors["minItems"], 1, "{name}");
            let listed: BTreeSet<&str> = errors["items"]["allOf"][1]["properties"]["code"]["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: 422 without a field code enum"))
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            let fields = response["x-field-codes"]
                .as_object()
                .unwrap_or_else(|| panic!("{name}: 422 without x-field-codes"));
            let by_field: BTreeSet<&str> = fields
                .values()
                .flat_map(|codes| codes.as_array().unwrap())
                .map(|c| c.as_str().unwrap())
                .collect();
            assert!(!listed.is_empty(), "{name}: 422 lists no field code");
            assert_eq!(listed, by_field, "{name}");
            for (field, codes) in fields {
                let row = format!("| `{field}` |");
                let row = if field == "*" { "| any field" } else { row.as_str() };
                assert!(
                    response["description"].as_str().unwrap().contains(row),
                    "{name}: {field} is not in the description's table"
                );
                assert!(!codes.as_array().unwrap().is_empty(), "{name}: {field}");
            }
            let example = &response["content"]["application/problem+json"]["example"];
            for error in example["errors"].as_array().unwrap() {
                let (field, code) = (error["field"].as_str().unwrap(), error["code"].as_str().unwrap());
                let fits = [crate::support::problem_codes::field_key(field).as_str(), "*"]
                    .iter()
                    .any(|f| {
                        fields
                            .get(*f)
                            .is_some_and(|c| c.as_array().unwrap().contains(&json!(code)))
                    });
                assert!(fits, "{name}: the example's {field} `{code}`");
            }
        }
    }
    assert!(answers >= 45, "only {answers} operations answer 422");
}

/// Every field code written in `src/` (`Invalid::new("…")`, `Invalid { code:
/// "…" }`, `FieldError::new(field, "…")` and the handlers' helpers that
/// take the field first) is listed for some operation.
#[test]
fn every_field_code_in_the_source_is_documented() {
    let doc = document();
    let mut documented = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for codes in op["responses"]["422"]["x-field-codes"]
                .as_object()
                .into_iter()
                .flatten()
            {
                documented.extend(
                    codes
                        .1
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap().to_owned()),
                );
            }
        }
    }
    let mut sources = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    // (constructor, which argument is the code)
    let constructors = [
        ("Invalid::new(", 0),
        ("FieldError::new(", 1),
        ("invalid(", 1),
        ("field_error(", 1),
        ("not_found_field(", 1),
    ];
    // The domain refuses an anonymous dispute, but `CreateDispute` has no
    // `anonymous` to send (it is `unknown_field` there).
    let unanswerable = ["dispute_not_anonymous"];
    let mut found = BTreeSet::new();
    for text in &sources {
        for (constructor, position) in constructors {
            for (at, _) in text.match_indices(constructor) {
                if let Some(code) = argument(&text[at + constructor.len()..], position) {
                    found.insert(code);
                }
            }
        }
        for (at, _) in text.match_indices("Invalid {") {
            let rest = text[at..].trim_start_matches("Invalid {").trim_start();
            if let Some(code) = rest.strip_prefix("code:").and_then(|r| argument(r, 0)) {
                found.insert(code);
            }
        }
    }
    assert!(found.len() >= 30, "only {} field codes found: {found:?}", found.len());
    let missing: Vec<&String> = found
        .iter()
        .filter(|c| !documented.contains(*c) && !unanswerable.contains(&c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "field codes answered but listed for no operation: {missing:?}"
    );
}

/// The `position`th argument of a call whose text follows the `(`, when it
/// is a string literal that reads as a code.
fn argument(text: &str, position: usize) -> Option<String> {
    let (mut depth, mut index, mut in_string, mut start) = (0, 0, false, 0);
    let mut previous = ' ';
    for (i, c) in text.char_indices() {
        match c {
            '"' if previous != '\\' => in_string = !in_string,
            _ if in_string => {}
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => return literal(&text[start..i], index == position),
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                if index == position {
                    return literal(&text[start..i], true);
                }
                index += 1;
                start = i + 1;
            }
            _ => {}
        }
        previous = c;
    }
    None
}

fn literal(argument: &str, wanted: bool) -> Option<String> {
    let code = argument.trim().strip_prefix('"')?.strip_suffix('"')?;
    (wanted && !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_')).then(|| code.to_owned())
}

/// A value of the parameter's type, as a query string writes it.
fn valid_value(doc: &Value, schema: &Value) -> String {
    let schema = match schema["$ref"].as_str() {
        Some(target) => &doc["components"]["schemas"][target.rsplit('/').next().unwrap()],
        None => schema,
    };
    if let Some(first) = schema["enum"][0].as_str() {
        return first.to_owned();
    }
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("boolean"), _) => "true".to_owned(),
        (_, Some("date-time")) => "2026-01-01T00%3A00%3A00Z".to_owned(),
        _ => "1".to_owned(),
    }
}

async fn send(app: &TestApp, method: &Method, path: &str, token: &str, body: Option<&str>) -> Res {
    let body = body.map(|b| ("application/json", b.as_bytes().to_vec()));
    app.raw(method.clone(), path, Some(token), &[], body).await
}

/// (field, code) of each error of a 422.
fn field_codes(res: &Res) -> Vec<(String, String)> {
    res.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[track_caller]
fn answers(res: &Res, name: &str, field: &str, code: &str) {
    assert_eq!(res.status.as_u16(), 422, "{name}: {}", res.text);
    assert!(
        field_codes(res).contains(&(field.to_owned(), code.to_owned())),
        "{name}: expected `{code}` for `{field}`: {}",
        res.text
    );
}

/// What `api::openapi::codes` says the shared extractors answer, every
/// operation it says it for answers: U+0000 in a query parameter's name,
/// a parameter given twice or of the wrong type, `limit=0` and a cursor
/// this API never gave out; U+0000 in a body's key, a key the body does
/// not take, an array for the body.
#[actix_web::test]
async fn the_shared_extractors_answer_what_the_document_says() {
    let app = TestApp::spawn().await;
    let root = app.superadmin().await;
    let doc = document();
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let fields = &op["responses"]["422"]["x-field-codes"];
            if fields.is_null() {
                continue;
            }
            let lists = |field: &str, code: &str| {
                fields[field]
                    .as_array()
                    .is_some_and(|codes| codes.contains(&json!(code)))
            };
            let name = format!("{method} {template}");
            let path = template.replace("{id}", "1");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let parameters: Vec<&Value> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .collect();
            let query: Vec<&str> = parameters.iter().map(|p| p["name"].as_str().unwrap()).collect();
            if let Some(first) = parameters.first() {
                let get = |query: &str| format!("{path}?{query}");
                let res = send(&app, &method, &get("%00=1"), &root, None).await;
                answers(&res, &name, "\\u0000", "control_characters");
                // A list parameter given twice is one list: repeat a scalar one.
                let scalar = parameters
                    .iter()
                    .find(|p| p["schema"]["type"] != "array")
                    .unwrap_or(first);
                let (first, value) = (scalar["name"].as_str().unwrap(), valid_value(&doc, &scalar["schema"]));
                let res = send(
                    &app,
                    &method,
                    &get(&format!("{first}={value}&{first}={value}")),
                    &root,
                    None,
                )
                .await;
                answers(&res, &name, first, "repeated");
                for parameter in &query {
                    if lists(parameter, "invalid_value") {
                        let res = send(&app, &method, &get(&format!("{parameter}=%E2%9C%97")), &root, None).await;
                        answers(&res, &name, parameter, "invalid_value");
                    }
                }
                if query.contains(&"limit") {
                    let res = send(&app, &method, &get("limit=0&cursor=%21"), &root, None).await;
                    answers(&res, &name, "limit", "out_of_range");
                    answers(&res, &name, "cursor", "invalid_cursor");
                }
                checked += 1;
            }
            if op["requestBody"]["content"].get("application/json").is_some() {
                let res = send(&app, &method, &path, &root, Some(r#"{"\u0000": 1}"#)).await;
                answers(&res, &name, "\\u0000", "control_characters");
                let res = send(&app, &method, &path, &root, Some("[]")).await;
                answers(&res, &name, ".", "invalid_value");
                if lists("*", "unknown_field") {
                    let res = send(&app, &method, &path, &root, Some(r#"{"no_such_key": 1}"#)).await;
                    answers(&res, &name, "no_such_key", "unknown_field");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 45, "only {checked} operations checked");
}
