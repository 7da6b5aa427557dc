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
    // Swagger UI's Authorize dialog takes a username and password.
    let oauth2 = &doc["components"]["securitySchemes"]["oauth2"];
    assert_eq!(oauth2["flows"]["password"]["tokenUrl"], "/api/v1/auth/token");
    assert!(doc["paths"]["/api/v1/auth/token"]["post"].is_object());
}

/// Every operation that takes a bearer token takes the password flow's too,
/// as an alternative (either one is enough).
#[test]
fn operations_accept_the_bearer_or_the_oauth2_scheme() {
    let doc: serde_json::Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    let mut secured = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(security) = op["security"].as_array() else {
                continue;
            };
            let bearer = security.contains(&serde_json::json!({"bearer": []}));
            let oauth2 = security.contains(&serde_json::json!({"oauth2": []}));
            assert_eq!(bearer, oauth2, "{method} {path}: {security:?}");
            secured += usize::from(bearer);
        }
    }
    assert!(secured >= 50, "only {secured} operations take a token");
}

/// The page makes no request that leaves the deployment (the validator
/// badge would send the document's address to validator.swagger.io) and
/// keeps the admin signed in across a reload.
#[actix_web::test]
async fn swagger_ui_calls_no_outside_host_and_keeps_the_sign_in() {
    let app = TestApp::spawn().await;
    let initializer = app.get("/swagger-ui/swagger-initializer.js", None).await;
    assert_eq!(initializer.status.as_u16(), 200);
    let config = initializer.text.replace(char::is_whitespace, "");
    assert!(config.contains(r#""validatorUrl":"none""#), "{}", initializer.text);
    assert!(
        config.contains(r#""persistAuthorization":true"#),
        "{}",
        initializer.text
    );
    let page = app.get("/swagger-ui/", None).await;
    for text in [&page.text, &initializer.text] {
        assert!(!text.contains("http://") && !text.contains("https://"), "{text}");
    }
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

/// Swagger UI's "Try it out" fills each body from its example and each
/// parameter from its `example`: pressing Execute without editing must save
/// nothing real and wrong. So no example names a version, no id in one names
/// a real object (`0` never exists), a body that may be left out shows `{}`,
/// and every Chinese text is a placeholder in full-width brackets, never a
/// record that reads as real (a resolution once went out as `已协调502住户…`).
/// Credentials and phone numbers are placeholders too, in every body the
/// auth operations included (the token form once showed the demo
/// resident's real name and password).
#[test]
fn request_examples_carry_no_state_and_no_real_looking_text() {
    /// Keys whose value must never look like a real one, and the only
    /// ASCII values they may show (anything else is a Chinese placeholder).
    const CREDENTIALS: &[&str] = &[
        "username",
        "password",
        "current_password",
        "new_password",
        "refresh_token",
        "phone",
    ];
    const PLACEHOLDERS: &[&str] = &["your-username", "your-password", "your-refresh-token"];
    fn check(name: &str, key: &str, value: &serde_json::Value) {
        if let serde_json::Value::String(text) = value
            && CREDENTIALS.contains(&key)
        {
            assert!(
                PLACEHOLDERS.contains(&text.as_str()) || (text.starts_with('（') && text.ends_with('）')),
                "{name}: `{key}` is not a placeholder: {text}"
            );
        }
        match value {
            serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| check(name, k, v)),
            serde_json::Value::Array(items) => items.iter().for_each(|v| check(name, key, v)),
            serde_json::Value::Number(n) => {
                assert_ne!(key, "version", "{name}: an example carries a version");
                if key == "id" || key.ends_with("_id") || key == "on_behalf_of" {
                    assert_eq!(n.as_i64(), Some(0), "{name}: `{key}` names a real object");
                }
            }
            serde_json::Value::String(text) if !text.is_ascii() => assert!(
                text.starts_with('（') && text.ends_with('）'),
                "{name}: `{key}` reads like a real record: {text}"
            ),
            _ => assert_ne!(key, "version", "{name}: an example carries a version"),
        }
    }
    let doc: serde_json::Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    let mut bodies = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                assert!(
                    parameter.get("example").is_none() && parameter["schema"].get("example").is_none(),
                    "{name}: parameter {} is filled in from an example",
                    parameter["name"]
                );
            }
            // JSON, or the token endpoint's form.
            for content in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, c)| c)
            {
                let component = content["schema"]["$ref"].as_str().unwrap_or_default();
                let component = &doc["components"]["schemas"][component.rsplit('/').next().unwrap_or_default()];
                let example = content.get("example").unwrap_or(&component["example"]);
                assert!(example.is_object(), "{name}: request body without an example");
                if op["requestBody"]["required"] != true {
                    assert_eq!(example, &serde_json::json!({}), "{name}: the body may be left out");
                }
                check(&name, "", example);
                bodies += 1;
            }
        }
    }
    assert!(bodies >= 35, "only {bodies} request bodies checked");
}

/// Chinese admins read the page: every summary is `中文 · English`, the
/// tags come in the order of the daily work (tickets first, set-up last)
/// and a tag's operations in the order of the work (Swagger UI keeps the
/// document's order).
#[test]
fn summaries_are_bilingual_and_operations_come_in_the_order_of_the_work() {
    let doc: serde_json::Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    // The typed document keeps the paths' order (serde_json's map would sort them).
    let mut order = Vec::new();
    for (path, item) in &griddesk::openapi().paths.paths {
        for op in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
            .into_iter()
            .flatten()
        {
            let summary = op.summary.as_deref().unwrap_or_default();
            let (zh, en) = summary.split_once(" · ").unwrap_or_else(|| panic!("{path}: {summary}"));
            assert!(!zh.is_ascii() && !en.is_empty(), "{path}: {summary}");
            order.push(op.operation_id.clone().unwrap_or_default());
        }
    }
    let table: Vec<&str> = griddesk::api::openapi::OPERATIONS.iter().map(|(id, _)| *id).collect();
    let mut documented: Vec<&str> = order.iter().map(String::as_str).collect();
    documented.sort_unstable();
    let mut named = table.clone();
    named.sort_unstable();
    assert_eq!(documented, named, "OPERATIONS must name each operation once");
    let at = |id: &str| order.iter().position(|op| op == id).unwrap();
    for pair in [
        ["create_complaint", "list_tickets"],
        ["accept_ticket", "resolve_ticket"],
        ["resolve_ticket", "close_ticket"],
        ["close_ticket", "reopen_ticket"],
        ["reopen_ticket", "escalate_ticket"],
        ["create_extension_request", "approve_extension_request"],
    ] {
        assert!(at(pair[0]) < at(pair[1]), "{} should come before {}", pair[0], pair[1]);
    }
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags[..2], ["tickets", "lifecycle"]);
    assert_eq!(tags.last(), Some(&"health"));
    assert!(tags.iter().position(|t| *t == "units") > tags.iter().position(|t| *t == "statistics"));
    for tag in doc["tags"].as_array().unwrap() {
        let description = tag["description"].as_str().unwrap();
        assert!(description.contains(" · ") && !description.is_ascii(), "{description}");
    }
    let intro = doc["info"]["description"].as_str().unwrap();
    assert!(intro.contains("Authorize") && intro.contains("用户名和密码"), "{intro}");
}

/// A typed client's method names are the operationIds: each says what it
/// acts on (`accept_ticket`, `sign_in`), never a bare verb (`login`,
/// `token`) that reads as anything. The health probes keep their
/// conventional names.
#[test]
fn operation_ids_say_what_they_act_on() {
    let doc: serde_json::Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            if ["healthz", "readyz"].contains(&id) {
                continue;
            }
            assert!(
                id.split('_').filter(|word| !word.is_empty()).count() >= 2,
                "{method} {path}: operationId `{id}` does not say what it acts on"
            );
        }
    }
}

/// Each ticket status is described with its Chinese name (`Status::name_zh`)
/// and whether it is final, as `domain::ticket::Status::is_final` says.
#[test]
fn each_status_is_described_in_chinese_with_whether_it_is_final() {
    use griddesk::domain::ticket::Status;
    let doc: serde_json::Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    let description = doc["components"]["schemas"]["Status"]["description"].as_str().unwrap();
    for status in Status::ALL {
        let row = description
            .lines()
            .find(|line| line.starts_with(&format!("| `{}` |", status.as_str())))
            .unwrap_or_else(|| panic!("no row for {}: {description}", status.as_str()));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(!cells[2].is_ascii(), "{row}");
        // The name CSV files write (`status_zh`) is the one the document gives.
        let after_name = cells[2].strip_prefix(status.name_zh());
        assert!(after_name.is_some_and(|rest| rest.starts_with(['：', ' '])), "{row}");
        let final_cell = if status.is_final() { "yes 是" } else { "no 否" };
        assert_eq!(cells[3], final_cell, "{row}");
    }
}

/// The request body Swagger UI fills in for an operation: its example.
fn example(doc: &serde_json::Value, method: &str, path: &str) -> serde_json::Value {
    let content = &doc["paths"][path][method]["requestBody"]["content"]["application/json"];
    let component = content["schema"]["$ref"].as_str().unwrap_or_default();
    let component = &doc["components"]["schemas"][component.rsplit('/').next().unwrap_or_default()];
    content.get("example").unwrap_or(&component["example"]).clone()
}

/// Pressing Execute without editing: an action's example does the action and
/// nothing else (no stale version, a placeholder text), and the examples that
/// would create or replace something real are refused as they stand.
#[actix_web::test]
async fn executing_an_unedited_example_saves_nothing_wrong() {
    use actix_web::http::Method;
    let app = TestApp::with_demo().await;
    let doc: serde_json::Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    let root = app.superadmin().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let ticket = crate::tickets::file(&app, &resident, "noise", "示例测试").await;
    let id = ticket["id"].as_i64().unwrap();

    // The actions: signed for and resolved, with the placeholder as the note.
    for action in ["accept", "resolve"] {
        let path = format!("/api/v1/tickets/{id}/{action}");
        let body = example(&doc, "post", &format!("/api/v1/tickets/{{id}}/{action}"));
        app.post(&path, Some(&admin), body).await.expect(200);
    }
    let events = app.get(&format!("/api/v1/tickets/{id}/events"), Some(&admin)).await;
    assert!(events.text.contains("（在此填写办结说明）"), "{}", events.text);

    let rules_before = app.get("/api/v1/sla-policies", Some(&root)).await.expect(200).clone();
    let refused = [
        (Method::POST, "/api/v1/users", &root),
        (Method::POST, "/api/v1/categories", &root),
        (Method::POST, "/api/v1/units", &root),
        (Method::PUT, "/api/v1/sla-policies", &root),
        (Method::POST, "/api/v1/complaints", &resident),
        (Method::POST, "/api/v1/disputes", &resident),
        (Method::POST, "/api/v1/tickets/{id}/close", &resident),
        (Method::POST, "/api/v1/tickets/{id}/merge", &admin),
        (Method::POST, "/api/v1/tickets/{id}/dispatch", &admin),
        (Method::PUT, "/api/v1/disputes/{id}/agreement", &admin),
        (Method::POST, "/api/v1/follow-ups/{id}/record", &admin),
        (Method::POST, "/api/v1/auth/register", &resident),
    ];
    for (method, documented, token) in refused {
        let body = example(&doc, &method.as_str().to_lowercase(), documented);
        let path = documented.replace("{id}", &id.to_string());
        let res = app.request(method.clone(), &path, Some(token), Some(body)).await;
        let status = res.status.as_u16();
        assert!(
            (400..500).contains(&status) && status != 401,
            "{method} {documented}: {status} {}",
            res.text
        );
    }
    let rules_after = app.get("/api/v1/sla-policies", Some(&root)).await.expect(200).clone();
    assert_eq!(rules_before, rules_after);
    let ticket = app.get(&format!("/api/v1/tickets/{id}"), Some(&admin)).await;
    assert_eq!(ticket.expect(200)["status"], "resolved");
}

/// Every `$ref` names a component the document holds: a generator stops at
/// a dangling one (a type only used in query parameters is not collected
/// by itself and must be listed in `ApiDoc`).
#[test]
fn every_reference_resolves() {
    fn refs<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(|r| r.as_str()) {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let doc: serde_json::Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 100, "only {} references", found.len());
    for reference in found {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is not local"));
        assert!(doc.pointer(pointer).is_some(), "{reference} names nothing");
    }
}
