//! Every error is RFC 9457 problem+json with a stable code, in the caller's language.

use awc::http::Method;
use serde_json::json;

use crate::support::TestApp;

#[actix_web::test]
async fn unknown_routes_are_404_problems() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/nothing-here", None)
        .await
        .expect_problem(404, "not_found");
    app.get("/nothing", None).await.expect_problem(404, "not_found");
    // A non-numeric id cannot name anything.
    app.get("/api/v1/units/abc", None)
        .await
        .expect_problem(404, "not_found");
}

#[actix_web::test]
async fn wrong_methods_are_405_with_allow() {
    let app = TestApp::spawn().await;
    let res = app.request(Method::PUT, "/api/v1/units", None, None).await;
    res.expect_problem(405, "method_not_allowed");
    assert_eq!(res.header("allow"), Some("GET, POST"));
    let res = app.request(Method::POST, "/api/v1/units/1", None, None).await;
    res.expect_problem(405, "method_not_allowed");
    assert_eq!(res.header("allow"), Some("GET, PATCH, DELETE"));
}

#[actix_web::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let res = app
        .raw(
            Method::POST,
            "/api/v1/auth/login",
            None,
            &[],
            Some(("application/json", b"{\"username\": ".to_vec())),
        )
        .await;
    res.expect_problem(400, "malformed_json");
    let res = app
        .raw(
            Method::POST,
            "/api/v1/auth/login",
            None,
            &[],
            Some(("application/json", b"{\"username\": \"a\"} x".to_vec())),
        )
        .await;
    res.expect_problem(400, "malformed_json");
}

#[actix_web::test]
async fn unknown_missing_and_mistyped_fields_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "a", "password": "b", "role": "admin"}),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["role"]);
    assert_eq!(res.body["errors"][0]["code"], "unknown_field");

    let res = app.post("/api/v1/auth/login", None, json!({"username": "a"})).await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["password"]);
    assert_eq!(res.body["errors"][0]["code"], "required");

    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "abc", "password": "12345678", "display_name": "x", "phone": "13812341234", "building_id": "nine", "room": "1"}),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["building_id"]);
}

#[actix_web::test]
async fn query_parameters_are_validated_with_the_parameter_named() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/v1/units?limit=abc", None).await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["limit"]);
    let res = app.get("/api/v1/units?limit=1000", None).await;
    assert_eq!(res.error_fields(), ["limit"]);
    let res = app.get("/api/v1/units?cursor=not-a-cursor", None).await;
    assert_eq!(res.error_fields(), ["cursor"]);
    let res = app.get("/api/v1/units?level=street", None).await;
    assert_eq!(res.error_fields(), ["level"]);
}

#[actix_web::test]
async fn bodies_over_the_limit_are_413() {
    let app = TestApp::spawn().await;
    let big = json!({"username": "x".repeat(70 * 1024), "password": "12345678"});
    app.post("/api/v1/auth/login", None, big)
        .await
        .expect_problem(413, "payload_too_large");
}

/// Sends `head` over a raw socket, then a body byte one at a time every
/// 200 ms until the server answers; reads the answer to the end. Returns
/// it, when it began to arrive, and whether the server closed the connection.
async fn dribble(app: &TestApp, head: &str, body: &[u8]) -> (String, std::time::Duration, bool) {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let address = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let mut answered_after = None;
    let mut closed = false;
    let mut unsent = body.iter();
    // 60 rounds of 200 ms: 12 s, whatever the server does.
    for _ in 0..60 {
        match actix_web::rt::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => {
                answered_after.get_or_insert_with(|| started.elapsed());
                answer.extend_from_slice(&buf[..n]);
            }
            // Nothing yet: one more byte, unless the server has begun to answer.
            Err(_) if answered_after.is_none() => {
                if let Some(byte) = unsent.next() {
                    let _ = stream.write_all(&[*byte]).await;
                }
            }
            Err(_) => {}
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        answered_after.unwrap_or(Duration::MAX),
        closed,
    )
}

#[actix_web::test]
async fn a_body_dribbled_a_byte_at_a_time_is_cut_off_with_408() {
    let app = TestApp::spawn_with(|state| state.body_timeout = std::time::Duration::from_secs(1)).await;
    let login = json!({"username": "nobody", "password": "whatever-it-is"}).to_string();
    let padded = format!("{login:<200}");
    let head = |framing: &str| {
        format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Accept-Language: zh-CN\r\n{framing}\r\n"
        )
    };

    // 200 bytes announced, one sent every 200 ms (40 s in all): the server
    // answers 408 after its 1 s and closes, long before.
    let (answer, after, closed) = dribble(&app, &head("Content-Length: 200\r\n"), padded.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(answer.contains("请求体未在 1 秒内传完"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    assert!(after < std::time::Duration::from_secs(4), "answered after {after:?}");
    assert!(closed, "the connection stayed open: {answer}");

    // The same with a chunked body (one byte per chunk).
    let chunks: Vec<u8> = padded
        .bytes()
        .flat_map(|b| format!("1\r\n{}\r\n", b as char).into_bytes())
        .collect();
    let (answer, after, closed) = dribble(&app, &head("Transfer-Encoding: chunked\r\n"), &chunks).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(after < std::time::Duration::from_secs(4), "answered after {after:?}");
    assert!(closed, "the connection stayed open: {answer}");

    // An operation that reads no body answers at once, and does not keep
    // reading a chunked body after its answer either.
    let (answer, after, closed) = dribble(
        &app,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        &chunks,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(after < std::time::Duration::from_secs(2), "answered after {after:?}");
    assert!(closed, "the connection stayed open: {answer}");

    // A body that arrives in time, even in pieces, is read as ever.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let framing = format!("Content-Length: {}\r\nConnection: close\r\n", login.len());
    stream.write_all(head(&framing).as_bytes()).await.unwrap();
    for piece in login.as_bytes().chunks(login.len() / 3 + 1) {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(150)).await;
        stream.write_all(piece).await.unwrap();
    }
    let mut answer = String::new();
    actix_web::rt::time::timeout(std::time::Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("invalid_credentials"), "{answer}");
}

#[actix_web::test]
async fn non_json_bodies_are_415() {
    let app = TestApp::spawn().await;
    let res = app
        .raw(
            Method::POST,
            "/api/v1/auth/login",
            None,
            &[],
            Some(("text/plain", b"username=a".to_vec())),
        )
        .await;
    res.expect_problem(415, "unsupported_media_type");
}

#[actix_web::test]
async fn problems_speak_chinese_when_asked() {
    let app = TestApp::spawn().await;
    let res = app
        .raw(
            Method::GET,
            "/api/v1/nothing",
            None,
            &[("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8")],
            None,
        )
        .await;
    res.expect_problem(404, "not_found");
    assert_eq!(res.body["title"], "未找到");
    assert_eq!(res.header("content-language"), Some("zh-CN"));

    let res = app
        .raw(
            Method::POST,
            "/api/v1/auth/register",
            None,
            &[("Accept-Language", "zh")],
            Some((
                "application/json",
                json!({"username": "abc", "password": "short", "display_name": "x", "phone": "123", "building_id": 1, "room": "1"})
                    .to_string()
                    .into_bytes(),
            )),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["password", "phone"]);
    assert_eq!(res.body["errors"][0]["message"], "密码至少需要 8 个字符。");

    let res = app
        .raw(
            Method::GET,
            "/api/v1/nothing",
            None,
            &[("Accept-Language", "en-US")],
            None,
        )
        .await;
    assert_eq!(res.body["title"], "Not Found");
}

#[actix_web::test]
async fn missing_or_bad_tokens_are_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/v1/me", None).await;
    res.expect_problem(401, "missing_token");
    assert_eq!(res.header("www-authenticate"), Some("Bearer realm=\"griddesk\""));

    let res = app.get("/api/v1/me", Some("not-a-jwt")).await;
    res.expect_problem(401, "invalid_token");
    assert!(res.header("www-authenticate").unwrap().contains("invalid_token"));

    // A bad token is never treated as anonymous, even where anonymous callers are welcome.
    app.get("/api/v1/units", Some("not-a-jwt"))
        .await
        .expect_problem(401, "invalid_token");

    let res = app
        .raw(
            Method::GET,
            "/api/v1/me",
            None,
            &[("Authorization", "Basic YTpi")],
            None,
        )
        .await;
    res.expect_problem(401, "invalid_token");
}

#[actix_web::test]
async fn responses_carry_security_headers() {
    let app = TestApp::spawn().await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
}

#[actix_web::test]
async fn bodies_read_as_json_schema_reads_them() {
    // `5.0` is an integer. A body that may be left out is left out, not
    // `null` (the document makes it optional, not nullable).
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let worker = app.token("jm.b1.bldg1.h1").await;
    let ticket = crate::tickets::file(&app, &resident, "noise", "噪音").await;
    let id = ticket["id"].as_i64().unwrap();
    let accept = |body: Option<&'static [u8]>| {
        let (app, worker) = (&app, worker.clone());
        async move {
            app.raw(
                Method::POST,
                &format!("/api/v1/tickets/{id}/accept"),
                Some(&worker),
                &[],
                body.map(|b| ("application/json", b.to_vec())),
            )
            .await
        }
    };
    accept(Some(b"null")).await.expect_problem(422, "validation_failed");
    accept(None).await.expect(200);
    app.post(
        &format!("/api/v1/tickets/{id}/resolve"),
        Some(&worker),
        json!({"note": "已处理", "version": 2.0}),
    )
    .await
    .expect(200);
    let closed = app
        .post(
            &format!("/api/v1/tickets/{id}/close"),
            Some(&resident),
            json!({"rating": 4.0}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(closed["rating"], 4);
    let res = app
        .post(
            &format!("/api/v1/tickets/{id}/close"),
            Some(&resident),
            json!({"rating": 4.5}),
        )
        .await;
    res.expect_problem(422, "validation_failed");
}

#[actix_web::test]
async fn objects_are_never_read_from_arrays() {
    // Serde reads a struct from an array of its fields in order; the
    // document allows only objects, and so does the server.
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let before = app.get("/api/v1/me", Some(&resident)).await.expect(200).clone();
    let res = app.patch("/api/v1/me", Some(&resident), json!(["新名字", null])).await;
    assert_eq!(
        res.expect_problem(422, "validation_failed").clone()["errors"][0]["field"],
        "."
    );
    let res = app
        .post(
            "/api/v1/disputes",
            Some(&resident),
            json!({"category": "neighbour_dispute", "title": "漏水", "description": "楼上漏水",
                "respondents": [[null, "李先生", "13900001234"]]}),
        )
        .await;
    assert_eq!(res.error_fields(), ["respondents[0]"]);
    let after = app.get("/api/v1/me", Some(&resident)).await.expect(200).clone();
    assert_eq!(after["display_name"], before["display_name"]);
}

#[actix_web::test]
async fn long_texts_keep_their_lines_and_short_ones_stay_on_one() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let description = "楼上每天早上7点装修。\n\t已和物业说过两次。\r\n请协调。";
    let filed = app
        .post(
            "/api/v1/complaints",
            Some(&resident),
            json!({"category": "noise", "title": "装修噪音", "description": description}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(filed["description"], description);
    let id = filed["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/tickets/{id}/comments"),
        Some(&resident),
        json!({"body": "补充：\n周末也在施工。"}),
    )
    .await
    .expect(201);
    // Other control characters are refused anywhere; line breaks in one-line fields too.
    for (field, value) in [
        ("description", "响\u{7}铃"),
        ("title", "两\n行"),
        ("description", "\n\t "),
    ] {
        let mut body = json!({"category": "noise", "title": "噪音", "description": "描述"});
        body[field] = json!(value);
        let res = app.post("/api/v1/complaints", Some(&resident), body).await;
        assert_eq!(res.error_fields(), [field], "{value:?}");
    }
}

#[actix_web::test]
async fn date_times_are_rfc_3339_exactly() {
    // The document says `format: date-time`; chrono alone would also take a
    // space for `T` and years of fewer than four digits.
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    for bad in [
        "313-10-26T18:48:40Z",
        "2026-11-28 08:00:00Z",
        "2026-11-28",
        "2026-11-28T08:00:00",
    ] {
        let res = app
            .get(&format!("/api/v1/audit?from={}", bad.replace(' ', "%20")), Some(&admin))
            .await;
        assert_eq!(res.error_fields(), ["from"], "{bad}");
    }
    app.get("/api/v1/audit?from=2026-11-01T08:00:00%2B08:00", Some(&admin))
        .await
        .expect(200);
}

#[actix_web::test]
async fn nul_bytes_are_422_naming_the_field_anywhere() {
    // PostgreSQL text cannot hold U+0000: a NUL that reached a query or an
    // insert answered 500 there. Every query and JSON string is checked first.
    let app = TestApp::with_demo().await;
    let nul_in = |res: &crate::support::Res, field: &str| {
        res.expect_problem(422, "validation_failed");
        assert_eq!(res.error_fields(), [field], "body: {}", res.text);
        assert_eq!(
            res.body["errors"][0]["code"], "control_characters",
            "body: {}",
            res.text
        );
    };
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    for token in [None, Some(admin.as_str())] {
        nul_in(&app.get("/api/v1/units?q=a%00b", token).await, "q");
        nul_in(&app.get("/api/v1/units?cursor=%00", token).await, "cursor");
    }
    nul_in(&app.get("/api/v1/tickets?q=%00", Some(&admin)).await, "q");
    nul_in(&app.get("/api/v1/users?q=x%00", Some(&admin)).await, "q");
    nul_in(
        &app.get("/api/v1/tickets?category=noise%00", Some(&resident)).await,
        "category",
    );
    // A parameter no operation reads is refused all the same.
    nul_in(&app.get("/api/v1/units?x=%00", None).await, "x");

    for (field, body) in [
        ("username", json!({"username": "jm\u{0}admin", "password": "x"})),
        ("password", json!({"username": "jm.admin", "password": "pass\u{0}word"})),
    ] {
        nul_in(&app.post("/api/v1/auth/login", None, body).await, field);
    }
    let register = json!({"username": "new\u{0}user", "password": "12345678", "display_name": "新住户",
        "phone": "13812341234", "building_id": 1, "room": "1"});
    nul_in(&app.post("/api/v1/auth/register", None, register).await, "username");
    for field in ["category", "title", "description", "location"] {
        let mut body = json!({"category": "noise", "title": "噪音", "description": "描述", "location": "3号楼"});
        body[field] = json!(format!("{}\u{0}", body[field].as_str().unwrap()));
        nul_in(&app.post("/api/v1/complaints", Some(&resident), body).await, field);
    }
    let dispute = json!({"category": "neighbour_dispute", "title": "漏水", "description": "楼上漏水",
        "respondents": [{"name": "李\u{0}先生"}]});
    nul_in(
        &app.post("/api/v1/disputes", Some(&resident), dispute).await,
        "respondents[0].name",
    );
    nul_in(
        &app.patch("/api/v1/me", Some(&resident), json!({"display_name": "\u{0}"}))
            .await,
        "display_name",
    );
    // Path parameters are numbers: a NUL there is not found, never a 500.
    for path in ["/api/v1/units/%00", "/api/v1/tickets/1%00", "/api/v1/units%00"] {
        app.get(path, Some(&admin)).await.expect_problem(404, "not_found");
    }
    // A NUL in a field's name is refused before the name is looked up.
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "a", "password": "b", "x\u{0}": 1}),
        )
        .await;
    nul_in(&res, "x\\u0000");
}

/// One-line texts (names, titles) refuse direction overrides, line
/// separators and invisible-only text, and are stored in NFC.
#[actix_web::test]
async fn names_read_as_they_are_stored() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    for (name, code) in [
        ("王\u{202e}芳", "control_characters"),
        ("王\u{2066}芳\u{2069}", "control_characters"),
        ("王\u{2028}芳", "control_characters"),
        ("\u{200b}\u{200b}", "required"),
        ("\u{feff}", "required"),
    ] {
        let res = app
            .patch("/api/v1/me", Some(&resident), json!({"display_name": name}))
            .await;
        res.expect_problem(422, "validation_failed");
        assert_eq!(res.error_fields(), ["display_name"], "{name:?}");
        assert_eq!(res.body["errors"][0]["code"], code, "{name:?}");
        let res = app
            .post(
                "/api/v1/complaints",
                Some(&resident),
                json!({"category": "noise", "title": name, "description": "楼上很吵。"}),
            )
            .await;
        assert_eq!(res.error_fields(), ["title"], "{name:?}");
    }
    let me = app
        .patch("/api/v1/me", Some(&resident), json!({"display_name": "Jose\u{301} 王"}))
        .await
        .expect(200)
        .clone();
    assert_eq!(me["display_name"], "Jos\u{e9} 王", "stored in NFC");
    // A description may still run over paragraphs.
    app.post(
        "/api/v1/complaints",
        Some(&resident),
        json!({"category": "noise", "title": "噪音", "description": "第一段\u{2029}第二段"}),
    )
    .await
    .expect(201);
}

/// Tokens pasted by hand with their quotes or a second `Bearer ` are told
/// so, in the caller's language; the challenge names `invalid_token`.
#[actix_web::test]
async fn tokens_pasted_with_quotes_or_a_second_bearer_are_told_so() {
    let app = TestApp::with_demo().await;
    let token = app.token("resident01").await;
    let cases = [
        (
            format!("Bearer Bearer {token}"),
            "`Bearer` twice",
            "`Bearer` 出现了两次",
        ),
        (format!("Bearer \"{token}\""), "wrapped in quotes", "带有引号"),
        (format!("bearer '{token}'"), "wrapped in quotes", "带有引号"),
    ];
    for (header, en, zh) in cases {
        for (lang, expected) in [("en", en), ("zh-CN", zh)] {
            let res = app
                .raw(
                    Method::GET,
                    "/api/v1/me",
                    None,
                    &[("Authorization", &header), ("Accept-Language", lang)],
                    None,
                )
                .await;
            res.expect_problem(401, "invalid_token");
            let detail = res.body["detail"].as_str().unwrap();
            assert!(detail.contains(expected), "{header}: {detail}");
            assert!(
                res.header("www-authenticate")
                    .unwrap()
                    .contains("error=\"invalid_token\"")
            );
        }
    }
    app.get("/api/v1/me", Some(&token)).await.expect(200);
}

/// A wrong password is a failed sign-in, not a lapsed one, and no bearer
/// token was at fault: the challenge names no `invalid_token`.
#[actix_web::test]
async fn a_wrong_password_is_titled_as_a_failed_sign_in() {
    let app = TestApp::with_demo().await;
    for (lang, title) in [("en", "Sign-in failed"), ("zh-CN", "登录失败")] {
        let body = json!({"username": "resident01", "password": "wrong-password"});
        let res = app
            .raw(
                Method::POST,
                "/api/v1/auth/login",
                None,
                &[("Accept-Language", lang)],
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await;
        res.expect_problem(401, "invalid_credentials");
        assert_eq!(res.body["title"], title);
        assert_eq!(res.header("www-authenticate"), Some("Bearer realm=\"griddesk\""));
    }
    let res = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": "made-up.token"}))
        .await;
    res.expect_problem(401, "invalid_refresh_token");
    assert_eq!(res.header("www-authenticate"), Some("Bearer realm=\"griddesk\""));
}
