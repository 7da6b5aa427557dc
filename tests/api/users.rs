//! Accounts as admins and staff see them: creation, scoping, masking,
//! deactivation and household coverage.

use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp};

fn usernames(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn admins_create_staff_and_admin_accounts() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let body = json!({"username": "chen.grid", "password": PASSWORD, "display_name": "陈网格", "phone": "13711112222", "role": "staff"});
    let res = app.post("/api/v1/users", Some(&admin), body.clone()).await;
    let user = res.expect(201).clone();
    let id = user["id"].as_i64().unwrap();
    assert_eq!(res.header("location"), Some(format!("/api/v1/users/{id}").as_str()));
    assert_eq!(
        (user["role"].as_str(), user["active"].as_bool()),
        (Some("staff"), Some(true))
    );
    app.post("/api/v1/users", Some(&admin), body)
        .await
        .expect_problem(409, "username_taken");
    // The creator still finds the unassigned account.
    app.get(&format!("/api/v1/users/{id}"), Some(&admin)).await.expect(200);
    app.login_tokens("chen.grid", PASSWORD).await;

    for role in ["resident", "superadmin"] {
        let res = app
            .post("/api/v1/users", Some(&admin), json!({"username": "x.y", "password": PASSWORD, "display_name": "x", "phone": "13711112222", "role": role}))
            .await;
        assert_eq!(res.error_fields(), ["role"], "{role}");
    }
    let staff = app.token("jm.committee").await;
    let res = app
        .post("/api/v1/users", Some(&staff), json!({"username": "x.y", "password": PASSWORD, "display_name": "x", "phone": "13711112222", "role": "staff"}))
        .await;
    res.expect_problem(403, "forbidden");
}

#[actix_web::test]
async fn admins_see_only_the_people_of_their_communities() {
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    let admin = app.token("jm.admin").await;

    let all = app
        .get("/api/v1/users?limit=100", Some(&admin))
        .await
        .expect(200)
        .clone();
    let names = usernames(&all);
    assert_eq!(names.len(), 1 + 1 + 3 + 6 + 18 + 20);
    assert!(!names.iter().any(|n| n.starts_with("hq.") || n == "root"));
    app.get(&format!("/api/v1/users/{}", other.resident_id), Some(&admin))
        .await
        .expect_problem(404, "not_found");
    app.get(&format!("/api/v1/users/{}", other.admin_id), Some(&admin))
        .await
        .expect_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/users/{}", other.resident_id),
        Some(&admin),
        json!({"active": false}),
    )
    .await
    .expect_problem(404, "not_found");

    let theirs = app
        .get("/api/v1/users?limit=100", Some(&other.admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(usernames(&theirs), ["hq.admin", "hq.resident"]);
    let everyone = app
        .get("/api/v1/users?limit=100", Some(&root))
        .await
        .expect(200)
        .clone();
    assert_eq!(everyone["items"].as_array().unwrap().len(), 49 + 1 + 2);

    let resident = app.token("resident01").await;
    app.get("/api/v1/users", Some(&resident))
        .await
        .expect_problem(403, "forbidden");
    // Residents see themselves, nobody else.
    let me = app.get("/api/v1/me", Some(&resident)).await.expect(200)["id"]
        .as_i64()
        .unwrap();
    app.get(&format!("/api/v1/users/{me}"), Some(&resident))
        .await
        .expect(200);
    let neighbour = app.user_id(&admin, "resident02").await;
    app.get(&format!("/api/v1/users/{neighbour}"), Some(&resident))
        .await
        .expect_problem(404, "not_found");
}

#[actix_web::test]
async fn users_filter_by_role_unit_and_text() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let residents = app
        .get("/api/v1/users?role=resident&limit=100", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(residents["items"].as_array().unwrap().len(), 20);
    let building = app.unit_id(&admin, "JM-B1-01").await;
    let here = app
        .get(&format!("/api/v1/users?unit_id={building}&limit=100"), Some(&admin))
        .await
        .expect(200)
        .clone();
    let names = usernames(&here);
    // The building leader, its three household holders, and the residents living there.
    assert!(names.contains(&"jm.b1.bldg1".to_owned()) && names.contains(&"jm.b1.bldg1.h3".to_owned()));
    assert!(names.contains(&"resident01".to_owned()));
    assert!(!names.contains(&"jm.branch1".to_owned()) && !names.contains(&"jm.b1.bldg2".to_owned()));
    let found = app
        .get("/api/v1/users?q=%E7%8E%8B%E8%8A%B3", Some(&admin))
        .await
        .expect(200)
        .clone(); // 王芳
    assert_eq!(usernames(&found), ["resident01"]);
    let res = app.get("/api/v1/users?unit_id=999999", Some(&admin)).await;
    assert_eq!(res.error_fields(), ["unit_id"]);
    let page = app.get("/api/v1/users?limit=5", Some(&admin)).await.expect(200).clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    let next = page["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(&format!("/api/v1/users?limit=5&cursor={next}"), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert!(page2["items"][0]["id"].as_i64() > page["items"][4]["id"].as_i64());
}

#[actix_web::test]
async fn staff_see_their_subtree_with_phones_masked_below_committee_level() {
    let app = TestApp::with_demo().await;
    let leader = app.token("jm.b1.bldg1").await;
    let list = app
        .get("/api/v1/users?role=resident&limit=100", Some(&leader))
        .await
        .expect(200)
        .clone();
    let items = list["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.len() < 20);
    for user in items {
        let phone = user["phone"].as_str().unwrap();
        assert!(phone.len() == 11 && &phone[3..7] == "****", "{phone}");
    }
    let committee = app.token("jm.committee").await;
    let list = app
        .get("/api/v1/users?role=resident&limit=100", Some(&committee))
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 20);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| !u["phone"].as_str().unwrap().contains('*'))
    );
    let admin = app.token("jm.admin").await;
    let far = app.user_id(&admin, "resident06").await; // lives in the neighbouring building
    app.get(&format!("/api/v1/users/{far}"), Some(&leader))
        .await
        .expect_problem(404, "not_found");
}

#[actix_web::test]
async fn deactivation_ends_sessions_at_once_and_blocks_sign_in() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let victim = app.token("resident03").await;
    let id = app.user_id(&admin, "resident03").await;
    let res = app
        .patch(&format!("/api/v1/users/{id}"), Some(&admin), json!({"active": false}))
        .await;
    assert_eq!(res.expect(200)["active"], false);
    app.get("/api/v1/me", Some(&victim))
        .await
        .expect_problem(401, "session_ended");
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "resident03", "password": PASSWORD}),
        )
        .await;
    login.expect_problem(401, "account_disabled");
    app.patch(&format!("/api/v1/users/{id}"), Some(&admin), json!({"active": true}))
        .await
        .expect(200);
    app.login_tokens("resident03", PASSWORD).await;

    let me = app.get("/api/v1/me", Some(&admin)).await.expect(200)["id"]
        .as_i64()
        .unwrap();
    let res = app
        .patch(&format!("/api/v1/users/{me}"), Some(&admin), json!({"active": false}))
        .await;
    res.expect_problem(403, "cannot_deactivate_self");
    let res = app
        .patch(&format!("/api/v1/users/{id}"), Some(&admin), json!({"role": "admin"}))
        .await;
    assert_eq!(res.error_fields(), ["role"]);
}

#[actix_web::test]
async fn household_coverage_is_kept_by_admins_and_branch_staff() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.user_id(&admin, "resident01").await;
    let building = app
        .get(&format!("/api/v1/users/{resident}"), Some(&admin))
        .await
        .expect(200)["building_id"]
        .as_i64()
        .unwrap();
    let tree = app
        .get(&format!("/api/v1/units/{building}/tree"), Some(&admin))
        .await
        .expect(200)
        .clone();
    let households: Vec<i64> = tree["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();

    let secretary = app.token("jm.branch1").await;
    let res = app
        .patch(
            &format!("/api/v1/users/{resident}"),
            Some(&secretary),
            json!({"household_id": households[2]}),
        )
        .await;
    assert_eq!(res.expect(200)["household_id"], households[2]);
    // Branch staff keep coverage only; other fields are admin work.
    let res = app
        .patch(
            &format!("/api/v1/users/{resident}"),
            Some(&secretary),
            json!({"active": false}),
        )
        .await;
    res.expect_problem(403, "forbidden");
    let leader = app.token("jm.b1.bldg1").await;
    let res = app
        .patch(
            &format!("/api/v1/users/{resident}"),
            Some(&leader),
            json!({"household_id": households[0]}),
        )
        .await;
    res.expect_problem(403, "forbidden");

    let elsewhere = app.unit_id(&admin, "JM-B2-01-H1").await;
    let res = app
        .patch(
            &format!("/api/v1/users/{resident}"),
            Some(&admin),
            json!({"household_id": elsewhere}),
        )
        .await;
    assert_eq!(res.error_fields(), ["household_id"]);
    let res = app
        .patch(
            &format!("/api/v1/users/{resident}"),
            Some(&admin),
            json!({"household_id": building}),
        )
        .await;
    assert_eq!(res.error_fields(), ["household_id"]);
    let res = app
        .patch(
            &format!("/api/v1/users/{resident}"),
            Some(&admin),
            json!({"household_id": null}),
        )
        .await;
    assert_eq!(res.expect(200)["household_id"], Value::Null);
    let staff = app.user_id(&admin, "jm.committee").await;
    let res = app
        .patch(
            &format!("/api/v1/users/{staff}"),
            Some(&admin),
            json!({"household_id": households[0]}),
        )
        .await;
    assert_eq!(res.error_fields(), ["household_id"]);
}

/// One community's admin may not rename, renumber or deactivate someone who
/// also serves another community; either community's admin may once the
/// person serves only theirs; a super-admin always may.
#[actix_web::test]
async fn staff_serving_two_communities_are_changed_by_neither_admin_alone() {
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    let admin = app.token("jm.admin").await;
    let shared = app
        .post(
            "/api/v1/users",
            Some(&root),
            json!({"username": "shared.worker", "password": PASSWORD, "display_name": "两社区网格员", "phone": "13722223333", "role": "staff"}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let branch1 = app.unit_id(&admin, "JM-B1").await;
    app.post(
        &format!("/api/v1/units/{branch1}/posts"),
        Some(&root),
        json!({"user_id": shared}),
    )
    .await
    .expect(201);
    let theirs = app
        .post(
            &format!("/api/v1/units/{}/posts", other.branch),
            Some(&root),
            json!({"user_id": shared}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/users/{shared}");
    for change in [
        json!({"active": false}),
        json!({"display_name": "改名"}),
        json!({"phone": "13700000000"}),
    ] {
        for token in [&admin, &other.admin] {
            app.patch(&path, Some(token), change.clone())
                .await
                .expect_problem(403, "forbidden");
        }
    }
    let unchanged = app.get(&path, Some(&admin)).await.expect(200).clone();
    assert_eq!(unchanged["display_name"], "两社区网格员");
    assert_eq!(unchanged["active"], true);
    // Once they serve only Junmen, Junmen's admin manages them again.
    app.delete(&format!("/api/v1/posts/{theirs}"), Some(&root))
        .await
        .expect(204);
    app.patch(&path, Some(&admin), json!({"display_name": "军门网格员"}))
        .await
        .expect(200);
    app.patch(&path, Some(&root), json!({"phone": "13700000000"}))
        .await
        .expect(200);
}

/// Removing someone's last post does not hide them from the admin of the
/// community they served: they stay listed (and readable) there, and only
/// there.
#[actix_web::test]
async fn staff_without_a_post_stay_listed_for_their_last_community() {
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    let admin = app.token("jm.admin").await;
    let worker = app
        .post(
            "/api/v1/users",
            Some(&root),
            json!({"username": "moved.worker", "password": PASSWORD, "display_name": "调岗网格员", "phone": "13733334444", "role": "staff"}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let branch1 = app.unit_id(&admin, "JM-B1").await;
    let post = app
        .post(
            &format!("/api/v1/units/{branch1}/posts"),
            Some(&root),
            json!({"user_id": worker}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let listed = |list: &Value| usernames(list).contains(&"moved.worker".to_owned());
    let list = app
        .get("/api/v1/users?limit=100", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert!(listed(&list));
    app.delete(&format!("/api/v1/posts/{post}"), Some(&admin))
        .await
        .expect(204);
    let list = app
        .get("/api/v1/users?limit=100", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert!(listed(&list), "still listed after the last post went");
    let list = app
        .get("/api/v1/users?limit=100&q=moved", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert!(listed(&list));
    app.get(&format!("/api/v1/users/{worker}"), Some(&admin))
        .await
        .expect(200);
    app.patch(
        &format!("/api/v1/users/{worker}"),
        Some(&admin),
        json!({"active": false}),
    )
    .await
    .expect(200);
    // Not the other community's business.
    let theirs = app
        .get("/api/v1/users?limit=100", Some(&other.admin))
        .await
        .expect(200)
        .clone();
    assert!(!listed(&theirs));
    app.get(&format!("/api/v1/users/{worker}"), Some(&other.admin))
        .await
        .expect_problem(404, "not_found");
    // Nor of staff who hold posts of their own.
    let branch_staff = app.token("jm.branch1").await;
    let list = app
        .get("/api/v1/users?limit=100", Some(&branch_staff))
        .await
        .expect(200)
        .clone();
    assert!(!listed(&list));
}
