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
    assert!(child.wait_with_output().unwrap().status.success());
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
    assert!(second.status.success());
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
