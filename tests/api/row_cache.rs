//! Readers share the units and reporters tickets show for a moment
//! (`db::row_cache`): a change shows at once on the replica that made it and
//! within the cache's lifetime on the others, and a unit or an account
//! created elsewhere a moment ago is read, never missing. Which units a
//! ticket has been at is remembered per version (`db::visit_cache`), so a
//! ticket that moves shows where it is at once, on every replica.

use griddesk::db::row_cache::TTL;
use serde_json::json;

use crate::support::TestApp;

async fn file(app: &TestApp, token: &str) -> i64 {
    app.post(
        "/api/v1/complaints",
        Some(token),
        json!({"category": "noise", "title": "楼上噪音", "description": "每晚十一点后有拖动家具的声音"}),
    )
    .await
    .expect(201)["id"]
        .as_i64()
        .expect("ticket id")
}

async fn wait_out_the_ttl() {
    actix_web::rt::time::sleep(TTL + std::time::Duration::from_millis(200)).await;
}

#[actix_web::test]
async fn a_renamed_unit_shows_at_once_here_and_within_the_ttl_on_other_replicas() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let ticket = file(&app, &resident).await;
    let path = format!("/api/v1/tickets/{ticket}");
    let unit = app.get(&path, Some(&admin)).await.expect(200)["current_unit"].clone();
    let unit_id = unit["id"].as_i64().expect("unit id");
    // Both replicas have read (and remember) the unit.
    other.get(&path, Some(&admin)).await.expect(200);
    other.get("/api/v1/tickets?limit=5", Some(&admin)).await.expect(200);

    app.patch(
        &format!("/api/v1/units/{unit_id}"),
        Some(&admin),
        json!({"name": "党员中心户·新名"}),
    )
    .await
    .expect(200);
    // Here at once, in the ticket and in the list...
    assert_eq!(
        app.get(&path, Some(&admin)).await.expect(200)["current_unit"]["name"],
        "党员中心户·新名"
    );
    let list = app
        .get("/api/v1/tickets?limit=5", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"][0]["id"], ticket);
    assert_eq!(list["items"][0]["current_unit"]["name"], "党员中心户·新名");
    // ...and on the other replica, after the TTL at the latest.
    wait_out_the_ttl().await;
    assert_eq!(
        other.get(&path, Some(&admin)).await.expect(200)["current_unit"]["name"],
        "党员中心户·新名"
    );
}

#[actix_web::test]
async fn a_reporter_who_renames_themselves_shows_at_once_here_and_within_the_ttl_elsewhere() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let ticket = file(&app, &resident).await;
    let path = format!("/api/v1/tickets/{ticket}");
    let before = app.get(&path, Some(&admin)).await.expect(200)["reporter"].clone();
    assert_ne!(before["display_name"], "改名后");
    other.get(&path, Some(&admin)).await.expect(200);

    app.patch(
        "/api/v1/me",
        Some(&resident),
        json!({"display_name": "改名后", "phone": "13900001111"}),
    )
    .await
    .expect(200);
    let shown = app.get(&path, Some(&admin)).await.expect(200)["reporter"].clone();
    assert_eq!(shown["display_name"], "改名后");
    assert_eq!(shown["phone"], "13900001111");
    let list = app
        .get("/api/v1/tickets?limit=5", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"][0]["reporter"]["display_name"], "改名后");
    // The resident's own view, and the other replica after the TTL.
    assert_eq!(
        app.get(&path, Some(&resident)).await.expect(200)["reporter"]["display_name"],
        "改名后"
    );
    wait_out_the_ttl().await;
    assert_eq!(
        other.get(&path, Some(&admin)).await.expect(200)["reporter"]["display_name"],
        "改名后"
    );
}

#[actix_web::test]
async fn a_resident_registered_on_another_replica_shows_with_their_first_ticket() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let admin = app.token("jm.admin").await;
    // This replica remembers the reporters and units of the newest tickets.
    app.get("/api/v1/tickets?limit=50", Some(&admin)).await.expect(200);

    let building = app.unit_id(&admin, "JM-B1-01").await;
    let registered = other
        .post(
            "/api/v1/auth/register?sign_in=true",
            None,
            json!({"username": "newcomer", "password": "correct-horse-42", "display_name": "新住户",
                "phone": "138 1234 1234", "building_id": building, "room": "3-502"}),
        )
        .await
        .expect(201)
        .clone();
    let token = registered["tokens"]["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let ticket = file(&other, &token).await;
    // Within the TTL, yet shown with its reporter and the unit it is at.
    let shown = app
        .get(&format!("/api/v1/tickets/{ticket}"), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(shown["reporter"]["display_name"], "新住户");
    assert_eq!(shown["reporter"]["room"], "3-502");
    assert!(shown["current_unit"]["name"].is_string(), "{shown}");
    let list = app
        .get("/api/v1/tickets?limit=5", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"][0]["id"], ticket);
    assert_eq!(list["items"][0]["reporter"]["display_name"], "新住户");
}

#[actix_web::test]
async fn a_ticket_that_moves_shows_where_it_is_at_once_on_every_replica() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let building = app.token("jm.b1.bldg1").await;
    let building_id = app.unit_id(&admin, "JM-B1-01").await;
    let ticket = file(&app, &resident).await;
    let path = format!("/api/v1/tickets/{ticket}");
    // Both replicas have read where it has been (at the household only).
    for replica in [&app, &other] {
        replica.get(&path, Some(&admin)).await.expect(200);
        let list = replica
            .get("/api/v1/tickets?limit=5", Some(&admin))
            .await
            .expect(200)
            .clone();
        assert_eq!(list["items"][0]["current_unit"]["level"], "household");
    }

    app.post(
        &format!("{path}/escalate"),
        Some(&household),
        json!({"reason": "需要楼栋协调"}),
    )
    .await
    .expect(200);
    // The other replica forgot nothing and waits for no TTL: the ticket's
    // new version is read anew, in the list and alone.
    let list = other
        .get("/api/v1/tickets?limit=5", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"][0]["id"], ticket);
    assert_eq!(list["items"][0]["current_unit"]["id"], building_id);
    let seen = other.get(&path, Some(&building)).await.expect(200).clone();
    assert_eq!(seen["current_unit"]["id"], building_id);
    // Its staff may work it there: it is theirs to sign for.
    assert!(seen["actions"].as_array().expect("actions").contains(&json!("accept")));
}

#[actix_web::test]
async fn a_party_added_to_a_dispute_shows_at_once_on_every_replica() {
    let app = TestApp::with_demo().await;
    let other = app.replica().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let building = app.token("jm.b1.bldg1").await;
    let dispute = app
        .post(
            "/api/v1/disputes",
            Some(&resident),
            json!({"category": "neighbour_dispute", "title": "漏水纠纷", "description": "协商未果。",
                "respondents": [{"name": "楼上住户"}]}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .expect("dispute id");
    let path = format!("/api/v1/tickets/{dispute}");
    let names = |ticket: &serde_json::Value| -> Vec<String> {
        ticket["parties"]
            .as_array()
            .expect("parties")
            .iter()
            .map(|p| p["name"].as_str().expect("name").to_owned())
            .collect()
    };
    // The other replica has read (and remembers) its two parties.
    assert_eq!(names(other.get(&path, Some(&admin)).await.expect(200)).len(), 2);

    app.post(
        &format!("/api/v1/disputes/{dispute}/parties"),
        Some(&building),
        json!({"role": "respondent", "name": "物业公司"}),
    )
    .await
    .expect(201);
    let seen = names(other.get(&path, Some(&admin)).await.expect(200));
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2], "物业公司");
    let list = other
        .get("/api/v1/tickets?limit=5", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"][0]["id"], dispute);
    assert_eq!(names(&list["items"][0])[2], "物业公司");
}
