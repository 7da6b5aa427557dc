//! Data shapes a typed client can trust: one timestamp form, enums and
//! required keys, idempotent replays, multi-status lists, CSV exports.

use awc::http::Method;
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::tickets::file;

/// Every string in `value` that starts like a date-time, with its path.
fn date_times(value: &Value, path: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::String(text) => {
            let b = text.as_bytes();
            if b.len() >= 11 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T' {
                found.push((path.to_owned(), text.clone()));
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, item)| date_times(item, &format!("{path}[{i}]"), found)),
        Value::Object(fields) => fields
            .iter()
            .for_each(|(name, item)| date_times(item, &format!("{path}.{name}"), found)),
        _ => {}
    }
}

/// `2026-11-30T08:15:02Z`: whole seconds, UTC, `Z`.
fn is_the_one_form(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    b.len() == 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'Z'
}

#[actix_web::test]
async fn every_time_is_whole_seconds_in_utc_in_json_and_local_in_csv() {
    let app = TestApp::with_demo().await;
    // A moment with a fraction, so a form with fractions would show.
    app.clock
        .advance(Duration::milliseconds(1234) + Duration::microseconds(567));
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let ticket = file(&app, &resident, "noise", "楼上装修噪音").await;
    let id = ticket["id"].as_i64().unwrap();
    let root = app.unit_id(&admin, "JM").await;
    let mut bodies = vec![ticket];
    for path in [
        format!("/api/v1/tickets/{id}"),
        "/api/v1/tickets".to_owned(),
        format!("/api/v1/tickets/{id}/events"),
        "/api/v1/categories".to_owned(),
        "/api/v1/me".to_owned(),
        "/api/v1/users".to_owned(),
        format!("/api/v1/units/{root}"),
        format!("/api/v1/stats?unit_id={root}"),
        format!("/api/v1/stats/units?parent_id={root}"),
        "/api/v1/audit".to_owned(),
    ] {
        bodies.push(app.get(&path, Some(&admin)).await.expect(200).clone());
    }
    let mut found = Vec::new();
    for body in &bodies {
        date_times(body, "", &mut found);
    }
    assert!(found.len() > 20, "{found:?}");
    let wrong: Vec<_> = found.iter().filter(|(_, text)| !is_the_one_form(text)).collect();
    assert!(wrong.is_empty(), "{wrong:?}");

    // CSV files are read by people: local times (Asia/Shanghai by default)
    // with their offset, whole seconds too.
    let csv = app
        .raw(
            Method::GET,
            &format!("/api/v1/stats?unit_id={root}"),
            Some(&admin),
            &[("Accept", "text/csv")],
            None,
        )
        .await;
    assert_eq!(csv.status.as_u16(), 200);
    let mut times: Vec<String> = csv
        .text
        .lines()
        .filter(|line| line.starts_with("from,") || line.starts_with("to,"))
        .map(|line| line[line.find(',').unwrap() + 1..].to_owned())
        .collect();
    assert_eq!(times.len(), 2, "{}", csv.text);
    let export = app
        .raw(Method::GET, "/api/v1/tickets/export", Some(&admin), &[], None)
        .await;
    assert_eq!(export.status.as_u16(), 200);
    let mut reader = csv::Reader::from_reader(export.text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    for line in reader.records() {
        let line = line.unwrap();
        for (name, cell) in header.iter().zip(line.iter()) {
            if name.ends_with("_at") && !cell.is_empty() {
                times.push(cell.to_owned());
            }
        }
    }
    // `from` and `to`; the ticket's filing, deadlines and last change.
    assert_eq!(times.len(), 2 + 4, "{times:?}");
    let wrong: Vec<_> = times.iter().filter(|t| !is_local_to_shanghai(t)).collect();
    assert!(wrong.is_empty(), "{wrong:?}");
}

/// `2026-11-30T16:15:02+08:00`: whole seconds, China's offset.
fn is_local_to_shanghai(text: &str) -> bool {
    text.len() == 25 && text.ends_with("+08:00") && is_the_one_form(&format!("{}Z", &text[..19]))
}

#[test]
fn answers_declare_every_key_closed_sets_and_what_each_operation_acts_on() {
    let doc: Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let required = |name: &str| -> Vec<String> {
        schemas[name]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    // Keys that are always there, null or not, are required in answers...
    for (schema, key) in [
        ("TicketResponse", "accepted_at"),
        ("TicketResponse", "reporter"),
        ("TicketResponse", "outcome"),
        ("EventResponse", "actor"),
        ("EventResponse", "from_status"),
        ("PartyResponse", "user_id"),
        ("TicketList", "next_cursor"),
        ("ExtensionResponse", "decided_at"),
    ] {
        assert!(required(schema).iter().any(|k| k == key), "{schema}.{key}");
    }
    // ...but not in requests, nor where the server leaves the key out.
    assert!(!required("CreateComplaint").iter().any(|k| k == "location"));
    assert!(!required("UnitResponse").iter().any(|k| k == "code"));
    assert!(!required("ProblemDetails").iter().any(|k| k == "current_status"));

    let enum_of = |schema: &str, key: &str| -> Vec<String> {
        let property = &schemas[schema]["properties"][key];
        let property = if property["items"].is_object() {
            &property["items"]
        } else {
            property
        };
        let target = property["$ref"]
            .as_str()
            .or_else(|| property["oneOf"][0]["$ref"].as_str())
            .unwrap_or_else(|| panic!("{schema}.{key} is no enum: {property}"));
        let target = &schemas[target.trim_start_matches("#/components/schemas/")];
        target["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema}.{key}: {target}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(enum_of("EventResponse", "kind").contains(&"auto_escalate".to_owned()));
    assert!(enum_of("ProblemDetails", "allowed_actions").contains(&"accept".to_owned()));
    assert!(enum_of("ProblemDetails", "current_status").contains(&"assigned".to_owned()));
    assert_eq!(enum_of("TicketResponse", "outcome"), ["settled", "not_settled"]);
    assert_eq!(enum_of("PartyResponse", "role"), ["applicant", "respondent"]);
    assert_eq!(
        enum_of("ExtensionResponse", "status"),
        ["pending", "approved", "denied"]
    );
    assert_eq!(enum_of("AuditEntry", "kind"), ["read", "write"]);
    assert!(enum_of("AuditEntry", "actor_role").contains(&"staff".to_owned()));
    assert!(enum_of("UnitStatsRow", "level").contains(&"building".to_owned()));

    let operation = |method: &str, path: &str| doc["paths"][path][method]["operationId"].as_str().unwrap().to_owned();
    assert_eq!(operation("post", "/api/v1/tickets/{id}/close"), "close_ticket");
    assert_eq!(operation("post", "/api/v1/tickets/{id}/accept"), "accept_ticket");
    assert_eq!(operation("get", "/api/v1/sla-policies"), "get_sla_policies");
    assert_eq!(operation("get", "/api/v1/units/{id}/tree"), "get_unit_tree");
}

/// The problem's `errors`, as (field, message) in the language asked for.
async fn field_messages(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Vec<(String, String)> {
    let res = app
        .raw(
            method,
            path,
            Some(token),
            &[("Accept-Language", "zh-CN")],
            body.map(|b| ("application/json", b.to_string().into_bytes())),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    res.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn chinese_messages_hold_no_parser_english_and_a_repeated_parameter_is_named() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let post = |body: Value| field_messages(&app, Method::POST, "/api/v1/complaints", &resident, Some(body));
    let cases = [
        post(json!({"category": "noise", "title": "噪音", "description": "吵", "priority": "open"})).await,
        post(json!({"category": 5, "title": "噪音", "description": "吵"})).await,
        post(json!({"category": "noise", "title": "噪音", "description": "吵", "anonymous": "yes"})).await,
        field_messages(&app, Method::GET, "/api/v1/tickets?limit=abc", &resident, None).await,
        field_messages(&app, Method::GET, "/api/v1/tickets?limit=-", &resident, None).await,
        field_messages(&app, Method::GET, "/api/v1/tickets?status=open", &resident, None).await,
        field_messages(
            &app,
            Method::GET,
            "/api/v1/tickets?created_from=yesterday",
            &resident,
            None,
        )
        .await,
        field_messages(&app, Method::GET, "/api/v1/tickets?overdue=maybe", &resident, None).await,
    ];
    for errors in &cases {
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (field, message) = &errors[0];
        assert!(field != ".", "{errors:?}");
        for english in [
            "unknown variant",
            "invalid type",
            "invalid digit",
            "expected",
            "found",
            "not an RFC",
        ] {
            assert!(!message.contains(english), "{errors:?}");
        }
    }
    let repeated = field_messages(&app, Method::GET, "/api/v1/tickets?limit=5&limit=6", &resident, None).await;
    assert_eq!(repeated.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), ["limit"]);
}

#[actix_web::test]
async fn a_replay_answers_the_first_headers_and_an_unchanged_ticket_is_304() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let body = json!({"category": "noise", "title": "楼上装修噪音", "description": "每天早上7点开始装修。"});
    let send = || {
        app.raw(
            Method::POST,
            "/api/v1/complaints",
            Some(&resident),
            &[("Idempotency-Key", "shapes-1")],
            Some(("application/json", body.to_string().into_bytes())),
        )
    };
    let first = send().await;
    first.expect(201);
    let again = send().await;
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
    for name in ["etag", "location"] {
        assert!(first.header(name).is_some(), "{name}");
        assert_eq!(again.header(name), first.header(name), "{name}");
    }
    let doc: Value = serde_json::from_str(&griddesk::openapi_json()).unwrap();
    let headers = &doc["paths"]["/api/v1/complaints"]["post"]["responses"]["201"]["headers"];
    assert!(headers["Idempotent-Replayed"].is_object(), "{headers}");

    let path = again.header("location").unwrap().to_owned();
    let get = |tag: &'static str, token: String| {
        let path = path.clone();
        let app = &app;
        async move {
            app.raw(Method::GET, &path, Some(&token), &[("If-None-Match", tag)], None)
                .await
        }
    };
    for tag in ["\"1\"", "W/\"1\"", "\"7\", \"1\"", "*"] {
        let res = get(tag, resident.clone()).await;
        assert_eq!(res.status.as_u16(), 304, "{tag}: {}", res.text);
        assert_eq!(res.header("etag"), Some("\"1\""));
        assert!(res.text.is_empty());
    }
    let res = get("\"2\"", resident.clone()).await;
    res.expect(200);
    assert_eq!(res.header("etag"), Some("\"1\""));
    // Who may not see the ticket learns nothing from a 304.
    let stranger = app.token("resident02").await;
    get("*", stranger).await.expect_problem(404, "not_found");
}
