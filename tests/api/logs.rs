//! Nothing secret reaches the log: the real binary serves every operation of
//! the OpenAPI document, with passwords, tokens and phone numbers in bodies,
//! queries and headers, and its whole log (debug level) is searched.

use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::{PASSWORD, TestDb};

const NEW_PASSWORD: &str = "a-fresh-pass-2026";
const WRONG_PASSWORD: &str = "not-my-password-77";
const PHONE: &str = "13912345678";

/// Phone numbers: a mainland mobile (11 digits, `1[3-9]…`) or an E.164
/// number (`+` and 8 to 15 digits), not glued to other letters or digits.
/// Masked ones (`139****5678`) and the digit groups of request ids do not match.
fn phone_like(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let glued = i < bytes.len() && bytes[i].is_ascii_alphanumeric();
            let run = &text[start..i];
            let mainland = run.len() == 11 && run.starts_with('1') && (b'3'..=b'9').contains(&bytes[start + 1]);
            let e164 = start > 0 && bytes[start - 1] == b'+' && (8..=15).contains(&run.len());
            if !glued && (mainland || e164) {
                found.push(run.to_owned());
            }
        } else {
            i += 1;
        }
    }
    found
}

#[test]
fn the_phone_finder_finds_phones_only() {
    assert_eq!(
        phone_like(
            "call 13912345678 or +8613912345678, not 139****5678 nor id 1024 nor a1391234567890b \
             nor request 0b5c6a4e-3f1d-4d8e-9a55-806438323586 nor 1391234567890"
        ),
        ["13912345678", "8613912345678"]
    );
}

/// A request body for an operation: its documented example, or `{}`.
fn example_body(doc: &Value, op: &Value) -> Option<Value> {
    let content = op.get("requestBody")?.get("content")?.get("application/json")?;
    if let Some(example) = content.get("example") {
        return Some(example.clone());
    }
    let schema = &content["schema"];
    let reference = schema["$ref"]
        .as_str()
        .or_else(|| schema["oneOf"][0]["$ref"].as_str())
        .or_else(|| schema["anyOf"][0]["$ref"].as_str())?;
    let name = reference.rsplit('/').next()?;
    Some(doc["components"]["schemas"][name]["example"].clone()).filter(|e| !e.is_null())
}

#[actix_web::test]
async fn no_password_token_or_phone_number_reaches_the_log() {
    let db = TestDb::new();
    let bin = env!("CARGO_BIN_EXE_griddesk");
    let demo = Command::new(bin)
        .args(["--database-url", &db.url, "demo"])
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(demo.status.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(bin)
        .args([
            "--database-url",
            &db.url,
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--no-worker",
        ])
        .env("RUST_LOG", "debug")
        .env_remove("GRIDDESK_JWT_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain both pipes as the server writes, or a full pipe would stall it.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            pipe.read_to_end(&mut text).unwrap();
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let base = format!("http://127.0.0.1:{port}");
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .finish();
    let mut up = false;
    for _ in 0..100 {
        if let Ok(res) = client.get(format!("{base}/healthz")).send().await
            && res.status().is_success()
        {
            up = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not come up within 10 s");

    let send = |method: &str, path: String, token: Option<String>, body: Option<Value>| {
        let client = client.clone();
        let url = format!("{base}{path}");
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
        async move {
            let mut req = client.request(method, url);
            if let Some(token) = token {
                req = req.insert_header(("Authorization", format!("Bearer {token}")));
            }
            let mut res = match body {
                Some(body) => req.send_json(&body).await.unwrap(),
                None => req.send().await.unwrap(),
            };
            // An event stream stays open for minutes: its answer is its head.
            let streaming = res
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
            if streaming {
                return (res.status().as_u16(), Value::Null);
            }
            let body = res.body().limit(16 * 1024 * 1024).await.unwrap();
            (
                res.status().as_u16(),
                serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            )
        }
    };
    let login = |user: &'static str, password: &'static str| {
        send(
            "POST",
            "/api/v1/auth/login".into(),
            None,
            Some(json!({"username": user, "password": password})),
        )
    };
    let (_, admin) = login("jm.admin", PASSWORD).await;
    let (_, resident) = login("resident01", PASSWORD).await;
    let mut secrets: Vec<String> = vec![PASSWORD.into(), NEW_PASSWORD.into(), WRONG_PASSWORD.into()];
    for tokens in [&admin, &resident] {
        secrets.push(tokens["access_token"].as_str().unwrap().into());
        secrets.push(tokens["refresh_token"].as_str().unwrap().into());
    }
    let admin_token = admin["access_token"].as_str().unwrap().to_owned();
    let resident_token = resident["access_token"].as_str().unwrap().to_owned();

    // Secrets in the places a careless log would catch them.
    login("jm.admin", WRONG_PASSWORD).await;
    send(
        "POST",
        "/api/v1/auth/login".into(),
        None,
        Some(json!({"username": PHONE, "password": 13_800_001_234_u64})),
    )
    .await;
    send(
        "POST",
        "/api/v1/auth/register".into(),
        None,
        Some(
            json!({"username": "newcomer", "password": NEW_PASSWORD, "display_name": "新居民", "phone": PHONE,
            "building_id": 999_999, "room": "1-101"}),
        ),
    )
    .await;
    send(
        "PATCH",
        "/api/v1/me".into(),
        Some(resident_token.clone()),
        Some(json!({"phone": 12345})),
    )
    .await;
    send(
        "GET",
        format!("/api/v1/users?q={PHONE}"),
        Some(admin_token.clone()),
        None,
    )
    .await;
    send(
        "GET",
        format!("/api/v1/tickets?q={PHONE}&limit=500"),
        Some(admin_token.clone()),
        None,
    )
    .await;
    send("GET", "/api/v1/me".into(), Some(format!("{admin_token}x")), None).await;

    // Every operation of the document, with its documented example body,
    // for the admin and for a resident; sign-out and password changes last.
    let (_, doc) = send("GET", "/api-docs/openapi.json".into(), None, None).await;
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                let last = path.ends_with("/logout") || path.ends_with("/me/password") || method == "delete";
                operations.push((last, method.to_uppercase(), path.clone(), example_body(&doc, op)));
            }
        }
    }
    operations.sort_by_key(|(last, ..)| *last);
    let mut answered = 0;
    for (_, method, path, body) in &operations {
        let concrete = path
            .split('/')
            .map(|part| if part.starts_with('{') { "1" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        let query = if method == "GET" {
            format!("?q={PHONE}")
        } else {
            String::new()
        };
        for token in [&resident_token, &admin_token] {
            let (status, _) = send(method, format!("{concrete}{query}"), Some(token.clone()), body.clone()).await;
            assert!(status < 500, "{method} {path}: {status}");
            answered += 1;
        }
    }
    assert!(answered >= 2 * 60, "only {answered} requests");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let log = format!("{}{}", stdout.join().unwrap(), stderr.join().unwrap());
    assert!(log.contains("HTTP request"), "the log was captured: {log}");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret reached the log: {secret}");
    }
    assert!(!log.contains("eyJ"), "something like a JWT reached the log");
    assert_eq!(phone_like(&log), Vec::<String>::new(), "phone numbers reached the log");
}
