//! The committed OpenAPI document is the generated one, served as is, and
//! documents every operation fully.

use crate::support::TestApp;

#[test]
fn the_committed_document_is_up_to_date() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).unwrap_or_default();
    let generated = griddesk::openapi_json();
    if committed != generated && std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"), &generated).unwrap();
        return;
    }
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test --test api openapi` (or `cargo run -- openapi > openapi/openapi.json`) and commit it"
    );
}

#[test]
fn free_text_fields_document_the_rules_the_server_applies() {
    // The attributes spell the patterns out (utoipa takes only literals);
    // each must be one of those the validators in `domain::people` and the
    // extractors (no U+0000 anywhere) follow.
    use griddesk::domain::people::{LINE_PATTERN, NO_NUL_PATTERN, TEXT_PATTERN};
    fn patterns<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(p) = map.get("pattern").and_then(|p| p.as_str()) {
                    out.push(p);
                }
                map.values().for_each(|v| patterns(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| patterns(v, out)),
            _ => {}
        }
    }
    let doc: serde_json::Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    let mut found = Vec::new();
    patterns(&doc, &mut found);
    let texts: Vec<&str> = found.into_iter().filter(|p| p.contains(r"\u0000")).collect();
    assert!(
        texts.contains(&LINE_PATTERN) && texts.contains(&TEXT_PATTERN) && texts.contains(&NO_NUL_PATTERN),
        "{texts:?}"
    );
    for pattern in texts {
        assert!(
            [LINE_PATTERN, TEXT_PATTERN, NO_NUL_PATTERN].contains(&pattern),
            "{pattern}"
        );
    }
}

#[test]
fn every_operation_has_a_tag_summary_description_and_its_errors() {
    let doc: serde_json::Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let name = format!("{method} {path}");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{name}: no tag");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: no summary"
            );
            let responses = op["responses"].as_object().unwrap();
            for (status, response) in responses {
                for (content_type, content) in response["content"].as_object().into_iter().flatten() {
                    let schema = content["schema"]["$ref"]
                        .as_str()
                        .or_else(|| content["schema"]["items"]["$ref"].as_str())
                        .unwrap_or_default();
                    let component = schema.rsplit('/').next().unwrap_or_default();
                    let has_example = content.get("example").is_some()
                        || doc["components"]["schemas"][component].get("example").is_some();
                    assert!(has_example, "{name}: {status} {content_type} without an example");
                }
                if let Some(reference) = response["$ref"].as_str() {
                    let component = &doc["components"]["responses"][reference.rsplit('/').next().unwrap()];
                    assert!(
                        component["content"]["application/problem+json"]
                            .get("example")
                            .is_some(),
                        "{reference}"
                    );
                }
            }
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{name}: no success response"
            );
            let secured = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            if secured {
                assert!(responses.contains_key("401"), "{name}: no 401");
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{name}: no 404");
            }
            if op.get("requestBody").is_some() {
                // The OAuth 2.0 token endpoint reads a form and answers a bad
                // one in RFC 6749 shape (400), never 415 or 422.
                let form = op["requestBody"]["content"]
                    .get("application/x-www-form-urlencoded")
                    .is_some();
                let statuses: &[&str] = if form {
                    &["400", "408", "413"]
                } else {
                    &["400", "408", "413", "415", "422"]
                };
                for status in statuses {
                    assert!(responses.contains_key(*status), "{name}: no {status}");
                }
                let content_type = if form {
                    "application/x-www-form-urlencoded"
                } else {
                    "application/json"
                };
                let content = &op["requestBody"]["content"][content_type];
                let schema = content["schema"]["$ref"]
                    .as_str()
                    .or_else(|| content["schema"]["oneOf"][0]["$ref"].as_str())
                    .unwrap_or_default();
                let component = schema.rsplit('/').next().unwrap_or_default();
                assert!(
                    content.get("example").is_some()
                        || doc["components"]["schemas"][component].get("example").is_some(),
                    "{name}: request body without an example"
                );
            }
        }
    }
    assert!(operations >= 20, "only {operations} operations documented");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

#[actix_web::test]
async fn the_document_and_swagger_ui_are_served() {
    let app = TestApp::spawn().await;
    let served = app.get("/api-docs/openapi.json", None).await;
    let served = served.expect(200).clone();
    let generated: serde_json::Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    assert_eq!(served, generated);
    let ui = app.get("/swagger-ui/", None).await;
    assert_eq!(ui.status.as_u16(), 200);
    assert!(ui.text.contains("swagger-ui"));
    let redirect = app.get("/swagger-ui", None).await;
    assert_eq!(redirect.status.as_u16(), 308);
    assert_eq!(redirect.header("location"), Some("/swagger-ui/"));
}

/// Every problem response of every operation names the `code`s it can
/// carry (an enum a client can switch on and schemathesis checks; every
/// answer a test receives is held to it in `support::problem_codes`), and
/// every code the source can answer is documented for some operation.
#[test]
fn every_problem_response_lists_its_codes() {
    let doc: serde_json::Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            assert!(
                op.get("x-problem-codes").is_none(),
                "{name}: codes declared for a status it does not document: {}",
                op["x-problem-codes"]
            );
            for (status, response) in op["responses"].as_object().unwrap() {
                let Some(content) = response["content"].get("application/problem+json") else {
                    continue;
                };
                let codes = content["schema"]["allOf"][1]["properties"]["code"]["enum"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{name}: {status} without a code enum"));
                assert!(!codes.is_empty(), "{name}: {status} lists no code");
                let example = content["example"]["code"].as_str().unwrap();
                assert!(
                    codes.iter().any(|c| c == example),
                    "{name}: {status} example `{example}`"
                );
                documented.extend(codes.iter().map(|c| c.as_str().unwrap().to_owned()));
            }
        }
    }

    // The codes an app must tell apart on 401, each with what to do.
    let text = serde_json::to_string(&doc["components"]["responses"]).unwrap();
    for code in [
        "missing_token",
        "invalid_token",
        "token_expired",
        "session_ended",
        "refresh_token_reused",
        "invalid_refresh_token",
        "invalid_credentials",
        "account_disabled",
    ] {
        assert!(documented.contains(code), "{code} is documented for no operation");
        assert!(text.contains(&format!("`{code}`")), "{code} is not described");
    }

    // Every code written in the source (problem codes, not field codes).
    let mut source = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                source.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let constructors = [
        "conflict(",
        "unauthorized(",
        "sign_in_failed(",
        "refresh_refused(",
        "code: ",
    ];
    // Answered outside any operation (a refused CORS preflight), never
    // answered (a lost idempotency race is answered with the winner's
    // response; the CLI's demo generator), or fallbacks of the database
    // layer that the specific codes above replace.
    let elsewhere = [
        "origin_not_allowed",
        "idempotency_race",
        "no_demo_community",
        "already_exists",
        "in_use",
        "concurrent_update",
    ];
    let mut missing = Vec::new();
    for text in &source {
        for constructor in constructors {
            for (at, _) in text.match_indices(constructor) {
                let rest = text[at + constructor.len()..].trim_start();
                let Some(literal) = rest.strip_prefix('"') else {
                    continue;
                };
                let code: String = literal.chars().take_while(|c| *c != '"').collect();
                // A field's code (`Invalid`, inside a 422's `errors`).
                let before: String = text[..at].chars().rev().take(40).collect();
                let field_code = before.contains(&"Invalid".chars().rev().collect::<String>());
                if code.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !field_code
                    && !elsewhere.contains(&code.as_str())
                    && !documented.contains(&code)
                {
                    missing.push(code);
                }
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "codes answered but documented for no operation: {missing:?}"
    );
}
