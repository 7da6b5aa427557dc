//! The grid: creating, reading, moving and deleting units, and who may.

use serde_json::{Value, json};

use crate::support::TestApp;

fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn anonymous_callers_see_public_levels_by_name_only() {
    let app = TestApp::with_demo().await;
    let list = app.get("/api/v1/units?limit=100", None).await.expect(200).clone();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1 + 3 + 6);
    for unit in items {
        assert_ne!(unit["level"], "household");
        assert!(unit.get("code").is_none() && unit.get("created_at").is_none(), "{unit}");
        assert!(unit["name"].is_string() && unit["level"].is_string());
    }
    let buildings = app.get("/api/v1/units?level=building", None).await.expect(200).clone();
    assert_eq!(buildings["items"].as_array().unwrap().len(), 6);
    let households = app.get("/api/v1/units?level=household", None).await.expect(200).clone();
    assert_eq!(households["items"].as_array().unwrap().len(), 0);

    let admin = app.token("jm.admin").await;
    let household = app.unit_id(&admin, "JM-B1-01-H1").await;
    app.get(&format!("/api/v1/units/{household}"), None)
        .await
        .expect_problem(404, "not_found");
    let tree = app.get(&format!("/api/v1/units/{household}/tree"), None).await;
    tree.expect_problem(404, "not_found");
}

#[actix_web::test]
async fn signed_in_callers_see_households_and_codes() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let list = app
        .get("/api/v1/units?limit=100", Some(&resident))
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 1 + 3 + 6 + 18);
    let household = app.unit_id(&resident, "JM-B1-01-H1").await;
    let unit = app
        .get(&format!("/api/v1/units/{household}"), Some(&resident))
        .await
        .expect(200)
        .clone();
    assert_eq!(unit["level"], "household");
    assert_eq!(unit["code"], "JM-B1-01-H1");
    assert!(unit["created_at"].as_str().unwrap().ends_with('Z'));
}

#[actix_web::test]
async fn lists_filter_and_page_with_cursors() {
    let app = TestApp::with_demo().await;
    let token = app.token("jm.admin").await;
    let branch = app.unit_id(&token, "JM-B2").await;
    let children = app
        .get(&format!("/api/v1/units?parent_id={branch}"), Some(&token))
        .await
        .expect(200)
        .clone();
    let names: Vec<&str> = children["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["1号楼", "2号楼"]);
    let found = app
        .get("/api/v1/units?q=%E5%87%A4%E5%87%B0", Some(&token))
        .await
        .expect(200)
        .clone(); // 凤凰
    assert_eq!(found["items"][0]["code"], "JM-B2");
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let by_code = app
        .get("/api/v1/units?q=jm-b3-02-h", Some(&token))
        .await
        .expect(200)
        .clone();
    assert_eq!(by_code["items"].as_array().unwrap().len(), 3);

    // Page through all 28 units, 10 at a time: every unit once, in id order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/units?limit=10&cursor={c}"),
            None => "/api/v1/units?limit=10".to_owned(),
        };
        let page = app.get(&path, Some(&token)).await.expect(200).clone();
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 28);
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, seen);
}

#[actix_web::test]
async fn the_tree_nests_the_whole_subtree() {
    let app = TestApp::with_demo().await;
    let token = app.token("resident01").await;
    let committee = app.unit_id(&token, "JM").await;
    let tree = app
        .get(&format!("/api/v1/units/{committee}/tree"), Some(&token))
        .await
        .expect(200)
        .clone();
    assert_eq!(tree["level"], "committee");
    let branches = tree["children"].as_array().unwrap();
    assert_eq!(branches.len(), 3);
    for branch in branches {
        assert_eq!(branch["parent_id"], committee);
        let buildings = branch["children"].as_array().unwrap();
        assert_eq!(buildings.len(), 2);
        for building in buildings {
            let households = building["children"].as_array().unwrap();
            assert_eq!(households.len(), 3);
            assert!(
                households
                    .iter()
                    .all(|h| h["level"] == "household" && h["children"] == json!([]))
            );
        }
    }
    // Anonymous: the same tree without households.
    let public = app
        .get(&format!("/api/v1/units/{committee}/tree"), None)
        .await
        .expect(200)
        .clone();
    assert_eq!(public["children"][0]["children"][0]["children"], json!([]));
    assert!(public["children"][0].get("code").is_none());
}

#[actix_web::test]
async fn admins_build_their_grid_one_level_at_a_time() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let committee = app.unit_id(&admin, "JM").await;
    let res = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "branch", "name": "新村小区党支部", "code": "JM-B4", "parent_id": committee}),
        )
        .await;
    let branch = res.expect(201).clone();
    let id = branch["id"].as_i64().unwrap();
    assert_eq!(res.header("location"), Some(format!("/api/v1/units/{id}").as_str()));
    assert_eq!(branch["parent_id"], committee);
    assert_eq!(
        app.get(&format!("/api/v1/units/{id}"), Some(&admin)).await.expect(200)["name"],
        "新村小区党支部"
    );

    // A building directly under the committee skips a level.
    let res = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "building", "name": "9号楼", "parent_id": committee}),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["parent_id"]);
    assert_eq!(res.body["errors"][0]["code"], "wrong_parent_level");
    let res = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "household", "name": "x"}),
        )
        .await;
    assert_eq!(res.error_fields(), ["parent_id"]);
    let res = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "building", "name": "x", "parent_id": 999_999}),
        )
        .await;
    assert_eq!(res.error_fields(), ["parent_id"]);
    let res = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "committee", "name": "x", "parent_id": committee}),
        )
        .await;
    assert_eq!(res.error_fields(), ["parent_id"]);
    let res = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "branch", "name": "", "code": "bad code!", "parent_id": committee}),
        )
        .await;
    assert_eq!(res.error_fields(), ["name", "code"]);
    // Codes are unique.
    let res = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "branch", "name": "重复", "code": "JM-B4", "parent_id": committee}),
        )
        .await;
    res.expect_problem(409, "unit_code_taken");
}

#[actix_web::test]
async fn only_super_admins_create_communities_and_admins_stay_in_theirs() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let res = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "committee", "name": "另一个社区"}),
        )
        .await;
    res.expect_problem(403, "forbidden");
    for username in ["jm.committee", "resident01"] {
        let token = app.token(username).await;
        let committee = app.unit_id(&token, "JM").await;
        let res = app
            .post(
                "/api/v1/units",
                Some(&token),
                json!({"level": "branch", "name": "x", "parent_id": committee}),
            )
            .await;
        res.expect_problem(403, "forbidden");
    }
    app.post("/api/v1/units", None, json!({"level": "committee", "name": "x"}))
        .await
        .expect_problem(401, "missing_token");

    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    // Junmen's admin may not touch the other community…
    let res = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "building", "name": "2号楼", "parent_id": other.branch}),
        )
        .await;
    res.expect_problem(403, "forbidden");
    app.patch(
        &format!("/api/v1/units/{}", other.branch),
        Some(&admin),
        json!({"name": "x"}),
    )
    .await
    .expect_problem(403, "forbidden");
    // A branch is public (the registration picker) and refused; a household
    // of another community is not even there for them.
    app.delete(&format!("/api/v1/units/{}", other.household), Some(&admin))
        .await
        .expect_problem(404, "not_found");
    app.get(&format!("/api/v1/units/{}", other.household), Some(&admin))
        .await
        .expect_problem(404, "not_found");
    let listed = app
        .get("/api/v1/units?level=household&limit=100", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["id"] != other.household),
        "another community's households are not listed"
    );
    let tree = app
        .get(&format!("/api/v1/units/{}/tree", other.branch), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        tree["children"][0]["children"],
        serde_json::json!([]),
        "nor shown in its tree"
    );
    // …whose own admin may.
    let res = app
        .post(
            "/api/v1/units",
            Some(&other.admin),
            json!({"level": "building", "name": "2号楼", "parent_id": other.branch}),
        )
        .await;
    res.expect(201);
}

#[actix_web::test]
async fn units_are_renamed_and_codes_cleared() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let building = app.unit_id(&admin, "JM-B1-01").await;
    let res = app
        .patch(
            &format!("/api/v1/units/{building}"),
            Some(&admin),
            json!({"name": "1号楼（东）", "code": null}),
        )
        .await;
    let unit = res.expect(200);
    assert_eq!(unit["name"], "1号楼（东）");
    assert!(unit.get("code").is_none());
    let res = app
        .patch(
            &format!("/api/v1/units/{building}"),
            Some(&admin),
            json!({"level": "branch"}),
        )
        .await;
    assert_eq!(res.error_fields(), ["level"]);
    app.patch("/api/v1/units/999999", Some(&admin), json!({"name": "x"}))
        .await
        .expect_problem(404, "not_found");
}

#[actix_web::test]
async fn moving_is_refused_while_a_unit_has_children_posts_or_residents() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let b1 = app.unit_id(&admin, "JM-B1").await;
    let b2 = app.unit_id(&admin, "JM-B2").await;
    let building = app.unit_id(&admin, "JM-B1-01").await;
    // Has households (children).
    let res = app
        .patch(
            &format!("/api/v1/units/{building}"),
            Some(&admin),
            json!({"parent_id": b2}),
        )
        .await;
    res.expect_problem(409, "unit_in_use");
    // A household has a post holder and residents.
    let household = app.unit_id(&admin, "JM-B1-01-H1").await;
    let other_building = app.unit_id(&admin, "JM-B1-02").await;
    let res = app
        .patch(
            &format!("/api/v1/units/{household}"),
            Some(&admin),
            json!({"parent_id": other_building}),
        )
        .await;
    res.expect_problem(409, "unit_in_use");

    // An empty building moves, and its subtree follows it.
    let new = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "building", "name": "3号楼", "parent_id": b1}),
        )
        .await;
    let new = new.expect(201)["id"].as_i64().unwrap();
    let moved = app
        .patch(&format!("/api/v1/units/{new}"), Some(&admin), json!({"parent_id": b2}))
        .await;
    assert_eq!(moved.expect(200)["parent_id"], b2);
    let tree = app
        .get(&format!("/api/v1/units/{b2}/tree"), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert!(tree["children"].as_array().unwrap().iter().any(|c| c["id"] == new));
    let tree = app
        .get(&format!("/api/v1/units/{b1}/tree"), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert!(!tree["children"].as_array().unwrap().iter().any(|c| c["id"] == new));
    // A child placed under it afterwards lies in the new subtree.
    app.post(
        "/api/v1/units",
        Some(&admin),
        json!({"level": "household", "name": "新户", "parent_id": new}),
    )
    .await
    .expect(201);
    let tree = app
        .get(&format!("/api/v1/units/{b2}/tree"), Some(&admin))
        .await
        .expect(200)
        .clone();
    let moved = tree["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == new)
        .unwrap()
        .clone();
    assert_eq!(moved["children"].as_array().unwrap().len(), 1);

    // The new parent must be one level up.
    let res = app
        .patch(&format!("/api/v1/units/{b1}"), Some(&admin), json!({"parent_id": b2}))
        .await;
    assert_eq!(res.error_fields(), ["parent_id"]);
}

#[actix_web::test]
async fn deleting_is_refused_while_a_unit_is_in_use() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let branch = app.unit_id(&admin, "JM-B3").await;
    let res = app.delete(&format!("/api/v1/units/{branch}"), Some(&admin)).await;
    let problem = res.expect_problem(409, "unit_in_use");
    assert!(
        problem["detail"].as_str().unwrap().contains("2 child units"),
        "{problem}"
    );
    let household = app.unit_id(&admin, "JM-B3-01-H1").await;
    app.delete(&format!("/api/v1/units/{household}"), Some(&admin))
        .await
        .expect_problem(409, "unit_in_use");

    let building = app.unit_id(&admin, "JM-B3-01").await;
    let empty = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "household", "name": "空户", "parent_id": building}),
        )
        .await;
    let empty = empty.expect(201)["id"].as_i64().unwrap();
    app.delete(&format!("/api/v1/units/{empty}"), Some(&admin))
        .await
        .expect(204);
    app.get(&format!("/api/v1/units/{empty}"), Some(&admin))
        .await
        .expect_problem(404, "not_found");
    app.delete(&format!("/api/v1/units/{empty}"), Some(&admin))
        .await
        .expect_problem(404, "not_found");
    let staff = app.token("jm.committee").await;
    app.delete(&format!("/api/v1/units/{household}"), Some(&staff))
        .await
        .expect_problem(403, "forbidden");
}
