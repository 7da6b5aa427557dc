//! Posts tie staff to units; who may create, read and remove them.

use serde_json::json;

use crate::support::{PASSWORD, TestApp};

async fn new_staff(app: &TestApp, admin: &str, username: &str, role: &str) -> i64 {
    let res = app
        .post(
            "/api/v1/users",
            Some(admin),
            json!({"username": username, "password": PASSWORD, "display_name": "新网格员", "phone": "13700000000", "role": role}),
        )
        .await;
    res.expect(201)["id"].as_i64().unwrap()
}

#[actix_web::test]
async fn admins_give_staff_posts_at_any_level_and_admins_at_committees() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let staff = new_staff(&app, &admin, "new.grid", "staff").await;
    let building = app.unit_id(&admin, "JM-B2-01").await;
    let res = app
        .post(
            &format!("/api/v1/units/{building}/posts"),
            Some(&admin),
            json!({"user_id": staff}),
        )
        .await;
    let post = res.expect(201).clone();
    assert_eq!(post["unit_id"], building);
    assert_eq!(post["user_id"], staff);
    assert_eq!(post["username"], "new.grid");
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/units/{building}/posts").as_str())
    );
    // The post shows on the account and gives its holder the subtree.
    let token = app.token("new.grid").await;
    let me = app.get("/api/v1/me", Some(&token)).await.expect(200).clone();
    assert_eq!(me["posts"][0]["unit_id"], building);
    app.get(&format!("/api/v1/units/{building}/posts"), Some(&token))
        .await
        .expect(200);

    let again = app
        .post(
            &format!("/api/v1/units/{building}/posts"),
            Some(&admin),
            json!({"user_id": staff}),
        )
        .await;
    again.expect_problem(409, "post_exists");

    let second_admin = new_staff(&app, &admin, "second.admin", "admin").await;
    let res = app
        .post(
            &format!("/api/v1/units/{building}/posts"),
            Some(&admin),
            json!({"user_id": second_admin}),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["user_id"]);
    let committee = app.unit_id(&admin, "JM").await;
    app.post(
        &format!("/api/v1/units/{committee}/posts"),
        Some(&admin),
        json!({"user_id": second_admin}),
    )
    .await
    .expect(201);

    let resident = app.user_id(&admin, "resident01").await;
    let res = app
        .post(
            &format!("/api/v1/units/{building}/posts"),
            Some(&admin),
            json!({"user_id": resident}),
        )
        .await;
    assert_eq!(res.error_fields(), ["user_id"]);
    let res = app
        .post(
            &format!("/api/v1/units/{building}/posts"),
            Some(&admin),
            json!({"user_id": 999_999}),
        )
        .await;
    assert_eq!(res.error_fields(), ["user_id"]);
    app.post("/api/v1/units/999999/posts", Some(&admin), json!({"user_id": staff}))
        .await
        .expect_problem(404, "not_found");
}

#[actix_web::test]
async fn posts_are_read_inside_the_readers_subtree_only() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let building = app.unit_id(&admin, "JM-B1-01").await;
    let other_building = app.unit_id(&admin, "JM-B1-02").await;

    let leader = app.token("jm.b1.bldg1").await;
    let list = app
        .get(&format!("/api/v1/units/{building}/posts"), Some(&leader))
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["username"], "jm.b1.bldg1");
    app.get(&format!("/api/v1/units/{other_building}/posts"), Some(&leader))
        .await
        .expect_problem(404, "not_found");

    let secretary = app.token("jm.branch1").await;
    app.get(&format!("/api/v1/units/{other_building}/posts"), Some(&secretary))
        .await
        .expect(200);
    let resident = app.token("resident01").await;
    app.get(&format!("/api/v1/units/{building}/posts"), Some(&resident))
        .await
        .expect_problem(404, "not_found");
    app.get(&format!("/api/v1/units/{building}/posts"), None)
        .await
        .expect_problem(401, "missing_token");

    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    app.get(&format!("/api/v1/units/{building}/posts"), Some(&other.admin))
        .await
        .expect_problem(404, "not_found");
    app.get(&format!("/api/v1/units/{building}/posts"), Some(&root))
        .await
        .expect(200);
}

#[actix_web::test]
async fn admins_remove_posts_in_their_communities() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let holder = app.token("jm.b1.bldg1").await;
    let me = app.get("/api/v1/me", Some(&holder)).await.expect(200).clone();
    let post_id = me["posts"][0]["post_id"].as_i64().unwrap();

    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    app.delete(&format!("/api/v1/posts/{post_id}"), Some(&other.admin))
        .await
        .expect_problem(404, "not_found");
    // The holder sees the post but may not remove it.
    app.delete(&format!("/api/v1/posts/{post_id}"), Some(&holder))
        .await
        .expect_problem(403, "forbidden");

    app.delete(&format!("/api/v1/posts/{post_id}"), Some(&admin))
        .await
        .expect(204);
    app.delete(&format!("/api/v1/posts/{post_id}"), Some(&admin))
        .await
        .expect_problem(404, "not_found");
    let me = app.get("/api/v1/me", Some(&holder)).await.expect(200).clone();
    assert_eq!(me["posts"], json!([]));
}

#[actix_web::test]
async fn an_admin_cannot_remove_their_own_last_post() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let root = app.superadmin().await;
    let me = app.get("/api/v1/me", Some(&admin)).await.expect(200).clone();
    let committee = me["posts"][0]["unit_id"].as_i64().unwrap();
    let own = app.post_id(&admin, committee, "jm.admin").await;
    app.delete(&format!("/api/v1/posts/{own}"), Some(&admin))
        .await
        .expect_problem(409, "own_last_post");
    app.get("/api/v1/units?limit=1", Some(&admin)).await.expect(200);
    assert_eq!(
        app.get("/api/v1/me", Some(&admin)).await.expect(200)["posts"][0]["unit_id"],
        committee
    );
    // With a post elsewhere, this one is not the last.
    app.second_community(&root).await;
    let other = app.unit_id(&root, "HQ").await;
    let user_id = me["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/units/{other}/posts"),
        Some(&root),
        json!({"user_id": user_id}),
    )
    .await
    .expect(201);
    let admin = app.token("jm.admin").await;
    app.delete(&format!("/api/v1/posts/{own}"), Some(&admin))
        .await
        .expect(204);
}
