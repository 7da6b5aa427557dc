//! The command line: start-up errors, create-admin, demo, openapi.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{PASSWORD, TestApp, TestDb};

fn griddesk(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_griddesk"));
    cmd.env("DATABASE_URL", &db.url)
        .env_remove("GRIDDESK_ADMIN_PASSWORD")
        .env("RUST_LOG", "warn");
    cmd
}

#[test]
fn a_bad_database_url_stops_start_up_with_one_clear_line() {
    let db = TestDb::new();
    let out = griddesk(&db)
        .args(["--database-url", "mysql://127.0.0.1/x", "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("mysql") && stderr.contains("not supported"), "{stderr}");

    let out = griddesk(&db)
        .args([
            "--database-url",
            "postgres://nobody:secret-pw@127.0.0.1:1/none",
            "migrate",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open the database at postgres://nobody:***@127.0.0.1:1/none"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("secret-pw"), "the password leaked: {stderr}");
}

#[test]
fn a_jwt_secret_file_that_is_short_unreadable_or_doubled_stops_start_up() {
    let db = TestDb::new();
    let dir = std::env::temp_dir().join(format!("griddesk-jwt-{}", griddesk::auth::secrets::random_token(6)));
    std::fs::create_dir_all(&dir).unwrap();
    let short = dir.join("short");
    std::fs::write(&short, "too-short\n").unwrap();
    let good = dir.join("good");
    std::fs::write(&good, format!("{}\n", "k".repeat(48))).unwrap();
    let run = |configure: &dyn Fn(&mut Command)| {
        let mut cmd = griddesk(&db);
        cmd.args(["serve", "--bind", "127.0.0.1:1"])
            .env_remove("GRIDDESK_JWT_SECRET")
            .env_remove("GRIDDESK_JWT_SECRET_FILE");
        configure(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).trim().to_owned()
    };
    let stderr = run(&|c| {
        c.arg("--jwt-secret-file").arg(&short);
    });
    assert!(stderr.contains("must hold at least 32 bytes"), "{stderr}");
    let stderr = run(&|c| {
        c.env("GRIDDESK_JWT_SECRET_FILE", dir.join("missing"));
    });
    assert!(stderr.contains("cannot read the JWT secret file"), "{stderr}");
    let stderr = run(&|c| {
        c.arg("--jwt-secret-file")
            .arg(&good)
            .env("GRIDDESK_JWT_SECRET", "s".repeat(40));
    });
    assert!(stderr.contains("not both"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn openapi_prints_the_document() {
    let db = TestDb::new();
    let out = griddesk(&db).arg("openapi").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), griddesk::openapi_json());
}

#[actix_web::test]
async fn create_admin_makes_a_super_admin_from_env_or_stdin() {
    let app = TestApp::spawn().await;
    let out = griddesk(&app.database)
        .args(["create-admin", "--username", "Chief", "--display-name", "主任"])
        .env("GRIDDESK_ADMIN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = app.token("chief").await;
    let me = app.get("/api/v1/me", Some(&token)).await.expect(200).clone();
    assert_eq!(
        (me["role"].as_str(), me["display_name"].as_str()),
        (Some("superadmin"), Some("主任"))
    );

    let mut child = griddesk(&app.database)
        .args(["create-admin", "--username", "deputy"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"another-long-password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    app.login_tokens("deputy", "another-long-password").await;

    let out = griddesk(&app.database)
        .args(["create-admin", "--username", "chief"])
        .env("GRIDDESK_ADMIN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a second `chief` must be refused");
    let out = griddesk(&app.database)
        .args(["create-admin", "--username", "weak"])
        .env("GRIDDESK_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("8 characters"));
}

#[actix_web::test]
async fn demo_loads_once_and_prints_how_to_sign_in() {
    let app = TestApp::spawn().await;
    let first = griddesk(&app.database).arg("demo").output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let text = String::from_utf8(first.stdout).unwrap();
    assert!(
        text.contains("jm.admin") && text.contains(PASSWORD) && text.contains("/swagger-ui/"),
        "{text}"
    );
    let second = griddesk(&app.database).arg("demo").output().unwrap();
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(String::from_utf8(second.stdout).unwrap().contains("already loaded"));

    let admin = app.token("jm.admin").await;
    let units = app
        .get("/api/v1/units?limit=100", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(units["items"].as_array().unwrap().len(), 1 + 3 + 6 + 18);
    let users = app
        .get("/api/v1/users?limit=100", Some(&admin))
        .await
        .expect(200)
        .clone();
    let items = users["items"].as_array().unwrap();
    assert_eq!(items.len(), 49);
    let residents: Vec<_> = items.iter().filter(|u| u["role"] == "resident").collect();
    assert_eq!(residents.len(), 20);
    assert!(
        residents
            .iter()
            .all(|r| r["building_id"].is_i64() && r["room"].is_string() && r["household_id"].is_i64())
    );
    // Sample tickets in every status, with timelines.
    let tickets = app
        .get("/api/v1/tickets?limit=100", Some(&admin))
        .await
        .expect(200)
        .clone();
    let tickets = tickets["items"].as_array().unwrap();
    assert_eq!(tickets.len(), 15);
    for status in [
        "assigned",
        "accepted",
        "resolved",
        "closed",
        "withdrawn",
        "rejected",
        "referred",
        "merged",
    ] {
        assert!(
            tickets.iter().any(|t| t["status"] == status),
            "no demo ticket is {status}"
        );
    }
    assert!(tickets.iter().any(|t| t["kind"] == "dispute") && tickets.iter().any(|t| t["overdue"] == true));
    // Timelines: one escalated by hand, one by the deadline worker, one extension.
    let mut timelines = Vec::new();
    for ticket in tickets {
        let events = app
            .get(&format!("/api/v1/tickets/{}/events", ticket["id"]), Some(&admin))
            .await
            .expect(200)
            .clone();
        let kinds: Vec<String> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect();
        timelines.push(kinds.join(" "));
    }
    assert!(
        timelines.contains(&"filed accept escalate accept".to_owned()),
        "{timelines:?}"
    );
    assert!(
        timelines.contains(&"filed accept resolve reopen auto_escalate".to_owned()),
        "{timelines:?}"
    );
    assert!(
        timelines.contains(&"filed accept extension_requested extension_approved".to_owned()),
        "{timelines:?}"
    );
    assert!(
        timelines.contains(&"filed accept mediation mediation agreement resolve close".to_owned()),
        "{timelines:?}"
    );
    let settled: Vec<_> = tickets.iter().filter(|t| t["outcome"] == "settled").collect();
    assert_eq!(settled.len(), 1);
    let due = app.get("/api/v1/follow-ups", Some(&admin)).await.expect(200).clone();
    assert_eq!(due["items"][0]["ticket_id"], settled[0]["id"]);
    assert_eq!(due["items"][0]["overdue"], true);
    for level in ["committee", "branch", "building", "household"] {
        assert!(
            items.iter().any(|u| u["posts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["level"] == level && u["role"] == "staff")),
            "no staff post at {level}"
        );
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[actix_web::test]
async fn serve_logs_json_keeps_a_generated_secret_and_stops_gracefully_on_sigterm() {
    let db = TestDb::new();
    let port = free_port();
    let start = |db: &TestDb| {
        griddesk(db)
            // No subcommand: `serve` is the default, and takes its settings from the environment.
            .env("GRIDDESK_BIND", format!("127.0.0.1:{port}"))
            .env("GRIDDESK_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env_remove("GRIDDESK_JWT_SECRET")
            .env_remove("GRIDDESK_JWT_SECRET_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let client = awc::Client::default();
    let base = format!("http://127.0.0.1:{port}");
    let wait_until_up = || async {
        for _ in 0..100 {
            if let Ok(res) = client.get(format!("{base}/healthz")).send().await
                && res.status().is_success()
            {
                return;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the server did not come up within 10 s");
    };
    let stop = |child: std::process::Child| {
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "exit status after SIGTERM: {:?}", out.status);
        String::from_utf8(out.stderr).unwrap()
    };

    let first = start(&db);
    wait_until_up().await;
    // The server bounds glibc's malloc arenas by starting itself again (see
    // `bound_malloc_arenas` in main.rs), keeping its process id.
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        let environ = std::fs::read(format!("/proc/{}/environ", first.id())).unwrap();
        let environ = String::from_utf8_lossy(&environ);
        assert!(
            environ
                .split('\0')
                .any(|v| v.starts_with("GLIBC_TUNABLES=glibc.malloc.arena_max=")),
            "{environ}"
        );
    }
    // Register and sign in against the real binary.
    let register = json_post(&client, &format!("{base}/api/v1/auth/register"), serde_json::json!({})).await;
    assert_eq!(register.0, 422);
    let login = json_post(
        &client,
        &format!("{base}/api/v1/auth/login"),
        serde_json::json!({"username": "nobody", "password": "whatever1"}),
    )
    .await;
    assert_eq!(login.0, 401);
    let logs = stop(first);
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(entry["level"].is_string() && entry["timestamp"].is_string(), "{line}");
    }
    assert!(logs.contains("GRIDDESK_JWT_SECRET is not set"), "{logs}");
    assert!(
        logs.contains("PRODUCTION MUST SET GRIDDESK_JWT_SECRET OR GRIDDESK_JWT_SECRET_FILE"),
        "{logs}"
    );
    assert!(logs.contains("SIGTERM received"), "{logs}");
    assert!(!logs.contains("whatever1"), "a password reached the log");
}

async fn json_post(client: &awc::Client, url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let mut res = client.post(url).send_json(&body).await.unwrap();
    let status = res.status().as_u16();
    let body = res.json::<serde_json::Value>().await.unwrap_or_default();
    (status, body)
}

#[actix_web::test]
async fn a_client_slow_to_send_its_request_is_cut_off_and_swagger_can_be_off() {
    use std::io::Read;
    use std::time::Duration;

    let db = TestDb::new();
    let port = free_port();
    let mut child = griddesk(&db)
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--request-timeout",
            "1",
            "--no-swagger",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = awc::Client::default();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if let Ok(res) = client.get(format!("{base}/healthz")).send().await
            && res.status().is_success()
        {
            up = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not come up within 10 s");
    let swagger = client.get(format!("{base}/swagger-ui/")).send().await.unwrap();
    assert_eq!(swagger.status().as_u16(), 404);

    // Half a request, then silence: the server answers 408 and closes
    // instead of holding the connection.
    let answer = actix_web::web::block(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .unwrap();
        let mut text = String::new();
        let read = stream.read_to_string(&mut text);
        (read.is_ok(), text)
    })
    .await
    .unwrap();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let (closed, text) = answer;
    // The request never completed, so only the request timeout answers 408.
    assert!(closed, "the connection was not closed within 10 s");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[actix_web::test]
async fn an_operators_own_glibc_tunables_are_left_as_they_are() {
    let db = TestDb::new();
    let port = free_port();
    let mut server = griddesk(&db)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=131072")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = awc::Client::default();
    let mut up = false;
    for _ in 0..100 {
        if let Ok(res) = client.get(format!("http://127.0.0.1:{port}/healthz")).send().await
            && res.status().is_success()
        {
            up = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let environ = std::fs::read(format!("/proc/{}/environ", server.id())).unwrap_or_default();
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(up, "the server did not come up within 10 s");
    let tunables: Vec<String> = String::from_utf8_lossy(&environ)
        .split('\0')
        .filter(|v| v.starts_with("GLIBC_TUNABLES="))
        .map(String::from)
        .collect();
    assert_eq!(tunables, ["GLIBC_TUNABLES=glibc.malloc.trim_threshold=131072"]);
}
