//! Categories, filing and routing, idempotency, lists and visibility.

use awc::http::Method;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp};

pub async fn file(app: &TestApp, token: &str, category: &str, title: &str) -> Value {
    let body = json!({"category": category, "title": title, "description": format!("{title}，请尽快处理。")});
    let res = app.post("/api/v1/complaints", Some(token), body).await;
    res.expect(201).clone()
}

fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn the_default_catalogue_is_bilingual() {
    let app = TestApp::with_demo().await;
    let token = app.token("resident01").await;
    let list = app.get("/api/v1/categories", Some(&token)).await.expect(200).clone();
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 14);
    let noise = items.iter().find(|c| c["code"] == "noise").unwrap();
    assert_eq!(
        (noise["name_zh"].as_str(), noise["name_en"].as_str()),
        (Some("噪音扰民"), Some("Noise"))
    );
    assert_eq!(noise["entry_level"], "household");
    let disputes = app
        .get("/api/v1/categories?kind=dispute", Some(&token))
        .await
        .expect(200)
        .clone();
    let codes: Vec<&str> = disputes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["neighbour_dispute", "owners_dispute"]);
    app.get("/api/v1/categories", None)
        .await
        .expect_problem(401, "missing_token");
}

#[actix_web::test]
async fn super_admins_keep_the_catalogue() {
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    let body = json!({"code": "pets", "name_zh": "宠物扰民", "name_en": "Pets", "kind": "complaint",
        "entry_level": "building", "accept_hours": 24, "resolve_hours": 72});
    let admin = app.token("jm.admin").await;
    app.post("/api/v1/categories", Some(&admin), body.clone())
        .await
        .expect_problem(403, "forbidden");
    let created = app
        .post("/api/v1/categories", Some(&root), body.clone())
        .await
        .expect(201)
        .clone();
    assert_eq!(created["active"], true);
    app.post("/api/v1/categories", Some(&root), body)
        .await
        .expect_problem(409, "category_code_taken");
    let bad = json!({"code": "Bad Code", "name_zh": "", "name_en": "x", "kind": "dispute",
        "entry_level": "household", "accept_hours": 0, "resolve_hours": 72});
    let res = app.post("/api/v1/categories", Some(&root), bad).await;
    assert_eq!(res.error_fields(), ["code", "name_zh", "accept_hours"]);
    let bad = json!({"code": "quarrel", "name_zh": "争吵", "name_en": "Quarrel", "kind": "dispute",
        "entry_level": "household", "accept_hours": 48, "resolve_hours": 24});
    let res = app.post("/api/v1/categories", Some(&root), bad).await;
    assert_eq!(res.error_fields(), ["entry_level", "resolve_hours"]);

    let id = created["id"].as_i64().unwrap();
    let res = app
        .patch(
            &format!("/api/v1/categories/{id}"),
            Some(&root),
            json!({"active": false, "resolve_hours": 96}),
        )
        .await;
    assert_eq!(res.expect(200)["resolve_hours"], 96);
    let res = app
        .patch(
            &format!("/api/v1/categories/{id}"),
            Some(&root),
            json!({"kind": "dispute"}),
        )
        .await;
    assert_eq!(res.error_fields(), ["kind"]);
    app.patch("/api/v1/categories/999999", Some(&root), json!({"active": true}))
        .await
        .expect_problem(404, "not_found");
    // Inactive: not listed, not fileable.
    let resident = app.token("resident01").await;
    let list = app.get("/api/v1/categories", Some(&resident)).await.expect(200).clone();
    assert!(!list.as_array().unwrap().iter().any(|c| c["code"] == "pets"));
    let all = app
        .get("/api/v1/categories?include_inactive=true", Some(&root))
        .await
        .expect(200)
        .clone();
    assert!(all.as_array().unwrap().iter().any(|c| c["code"] == "pets"));
    let res = app
        .post(
            "/api/v1/complaints",
            Some(&resident),
            json!({"category": "pets", "title": "狗叫", "description": "夜里狗叫"}),
        )
        .await;
    assert_eq!(res.error_fields(), ["category"]);
}

#[actix_web::test]
async fn tickets_land_at_the_lowest_serving_unit_at_or_above_the_entry_level() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let cases = [
        ("noise", "JM-B1-01-H1"),
        ("leak", "JM-B1-01"),
        ("property_management", "JM-B1"),
        ("safety_hazard", "JM"),
    ];
    for (category, code) in cases {
        let ticket = file(&app, &resident, category, "测试").await;
        assert_eq!(ticket["current_unit_id"], app.unit_id(&admin, code).await, "{category}");
        assert_eq!(ticket["current_unit"]["id"], ticket["current_unit_id"]);
    }
    // Without a household assigned, household-level categories start at the building.
    let me = app.user_id(&admin, "resident01").await;
    app.patch(
        &format!("/api/v1/users/{me}"),
        Some(&admin),
        json!({"household_id": null}),
    )
    .await
    .expect(200);
    let ticket = file(&app, &resident, "sanitation", "楼道垃圾").await;
    assert_eq!(ticket["current_unit_id"], app.unit_id(&admin, "JM-B1-01").await);
}

#[actix_web::test]
async fn a_filed_complaint_has_everything_the_app_needs() {
    let app = TestApp::with_demo().await;
    let token = app.token("resident01").await;
    let body = json!({"category": "noise", "title": "楼上装修噪音", "description": "每天早上7点开始装修。",
        "location": "1号楼", "latitude": 26.07, "longitude": 119.29, "priority": "urgent"});
    let res = app.post("/api/v1/complaints", Some(&token), body).await;
    let ticket = res.expect(201).clone();
    let id = ticket["id"].as_i64().unwrap();
    assert_eq!(res.header("location"), Some(format!("/api/v1/tickets/{id}").as_str()));
    assert_eq!(res.header("etag"), Some("\"1\""));
    assert_eq!(ticket["kind"], "complaint");
    assert_eq!(ticket["status"], "assigned");
    assert_eq!(ticket["category"]["code"], "noise");
    assert_eq!(ticket["category"]["name_zh"], "噪音扰民");
    assert_eq!(ticket["priority"], "urgent");
    assert_eq!(ticket["reporter"]["display_name"], "王芳");
    assert_eq!(ticket["version"], 1);
    assert_eq!(ticket["overdue"], false);
    assert_eq!(ticket["actions"], json!(["withdraw"]));
    let created = time(&ticket["created_at"]);
    assert_eq!(time(&ticket["accept_due_at"]) - created, Duration::hours(24));
    assert_eq!(time(&ticket["resolve_due_at"]) - created, Duration::hours(72));
    assert!(ticket["created_at"].as_str().unwrap().ends_with('Z'));

    let fetched = app.get(&format!("/api/v1/tickets/{id}"), Some(&token)).await;
    assert_eq!(fetched.header("etag"), Some("\"1\""));
    assert_eq!(fetched.expect(200)["title"], "楼上装修噪音");
    let events = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&token))
        .await
        .expect(200)
        .clone();
    assert_eq!(events["items"][0]["kind"], "filed");
    assert_eq!(events["items"][0]["to_status"], "assigned");
    assert_eq!(events["items"][0]["to_unit_id"], ticket["current_unit_id"]);
}

#[actix_web::test]
async fn filing_rejects_bad_input_field_by_field() {
    let app = TestApp::with_demo().await;
    let token = app.token("resident01").await;
    let res = app
        .post(
            "/api/v1/complaints",
            Some(&token),
            json!({"category": "noise", "title": "", "description": "x", "latitude": 91.0}),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["title", "longitude"]);
    let res = app
        .post(
            "/api/v1/complaints",
            Some(&token),
            json!({"category": "noise", "title": "x", "description": "x", "latitude": 91.0, "longitude": 0.0}),
        )
        .await;
    assert_eq!(res.error_fields(), ["latitude"]);
    let res = app
        .post(
            "/api/v1/complaints",
            Some(&token),
            json!({"category": "neighbour_dispute", "title": "x", "description": "x"}),
        )
        .await;
    assert_eq!(res.error_fields(), ["category"]);
    let res = app
        .post(
            "/api/v1/complaints",
            Some(&token),
            json!({"category": "nope", "title": "x", "description": "x"}),
        )
        .await;
    assert_eq!(res.error_fields(), ["category"]);
    for field in ["status", "reporter_id", "current_unit_id", "version"] {
        let mut body = json!({"category": "noise", "title": "x", "description": "x"});
        body[field] = json!(1);
        let res = app.post("/api/v1/complaints", Some(&token), body).await;
        assert_eq!(res.error_fields(), [field], "{field} must not be accepted");
    }
    let res = app
        .post(
            "/api/v1/complaints",
            Some(&token),
            json!({"category": "noise", "title": "x", "description": "x", "on_behalf_of": 2}),
        )
        .await;
    res.expect_problem(403, "staff_only");
    app.post(
        "/api/v1/complaints",
        None,
        json!({"category": "noise", "title": "x", "description": "x"}),
    )
    .await
    .expect_problem(401, "missing_token");
}

#[actix_web::test]
async fn staff_file_for_residents_of_their_area() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let leader = app.token("jm.b1.bldg1").await;
    let resident = app.user_id(&admin, "resident01").await;
    let elsewhere = app.user_id(&admin, "resident04").await; // lives in 军门小区 2号楼
    let body = |who: i64| json!({"category": "leak", "title": "电话反映漏水", "description": "居民来电。", "on_behalf_of": who});
    let ticket = app
        .post("/api/v1/complaints", Some(&leader), body(resident))
        .await
        .expect(201)
        .clone();
    assert_eq!(ticket["reporter"]["id"], resident);
    assert_eq!(
        ticket["filed_by_id"],
        app.get("/api/v1/me", Some(&leader)).await.body["id"]
    );
    let res = app.post("/api/v1/complaints", Some(&leader), body(elsewhere)).await;
    assert_eq!(res.error_fields(), ["on_behalf_of"]);
    let res = app
        .post(
            "/api/v1/complaints",
            Some(&leader),
            json!({"category": "leak", "title": "x", "description": "x"}),
        )
        .await;
    assert_eq!(res.error_fields(), ["on_behalf_of"]);
    // The resident sees it as their own.
    let own = app.token("resident01").await;
    let list = app.get("/api/v1/tickets", Some(&own)).await.expect(200).clone();
    assert_eq!(ids(&list), [ticket["id"].as_i64().unwrap()]);
}

/// A filing commits all its rows or none. On PostgreSQL the rows after the
/// ticket's own wait for the transaction's last statement: the audit row's
/// when staff file (their changes are audited), a statement of their own
/// just before the commit when a resident files (`db::batch::defer`). The
/// database here refuses the first event, which is one of those rows.
#[actix_web::test]
async fn a_filing_commits_all_its_rows_or_none() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let leader = app.token("jm.b1.bldg1").await;
    let own = app.token("resident01").await;
    let resident = app.user_id(&admin, "resident01").await;
    let before = ids(app.get("/api/v1/tickets?limit=100", Some(&admin)).await.expect(200));
    let staff = json!({"category": "leak", "title": "电话反映漏水", "description": "居民来电，厨房渗水。", "on_behalf_of": resident});
    let theirs = json!({"category": "noise", "title": "楼上噪音", "description": "深夜拖动家具。"});

    refuse_first_events(&app, true).await;
    for _ in 0..2 {
        for (token, body) in [(&leader, &staff), (&own, &theirs)] {
            let body = Some(("application/json", body.to_string().into_bytes()));
            let res = app
                .raw_faulted(Method::POST, "/api/v1/complaints", Some(token), &[], body)
                .await;
            assert_eq!(res.status, 500, "{}", res.text);
        }
    }
    let list = app.get("/api/v1/tickets?limit=100", Some(&admin)).await;
    assert_eq!(ids(list.expect(200)), before, "no ticket without its event");
    assert_eq!(crate::search::search(&app, &admin, "渗水").await, Vec::<i64>::new());

    // Nothing of the failed filings waits to be sent with a later one.
    refuse_first_events(&app, false).await;
    let mut filed = Vec::new();
    for (token, body) in [(&leader, &staff), (&own, &theirs)] {
        let ticket = app
            .post("/api/v1/complaints", Some(token), body.clone())
            .await
            .expect(201)
            .clone();
        let id = ticket["id"].as_i64().unwrap();
        let events = app.get(&format!("/api/v1/tickets/{id}/events"), Some(&admin)).await;
        let events = events.expect(200)["items"].as_array().unwrap().clone();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["kind"], "filed");
        assert_eq!(events[0]["to_unit_id"], ticket["current_unit_id"]);
        filed.push(id);
    }
    assert_eq!(crate::search::search(&app, &admin, "渗水").await, filed[..1]);
    let list = app.get("/api/v1/tickets?limit=100", Some(&admin)).await;
    let mut now = ids(list.expect(200));
    now.retain(|id| !before.contains(id));
    now.sort_unstable();
    assert_eq!(now, filed);
}

/// Makes the database refuse every first event of a ticket (`filed`), or,
/// with `false`, accept them again.
async fn refuse_first_events(app: &TestApp, refuse: bool) {
    app.refuse_inserts("refuse_first_events", "ticket_events", "NEW.kind = 'filed'", refuse)
        .await;
}

#[actix_web::test]
async fn disputes_carry_their_parties_and_parties_see_no_contact_details() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let applicant = app.token("resident01").await;
    let neighbour = app.user_id(&admin, "resident02").await;
    let body = json!({"category": "neighbour_dispute", "title": "楼上漏水纠纷", "description": "协商未果。",
        "respondents": [{"user_id": neighbour}, {"name": "李先生", "phone": "13900001234"}]});
    let res = app.post("/api/v1/disputes", Some(&applicant), body).await;
    let dispute = res.expect(201).clone();
    let id = dispute["id"].as_i64().unwrap();
    assert_eq!(dispute["kind"], "dispute");
    assert_eq!(
        dispute["current_unit_id"],
        app.unit_id(&admin, "JM-B1-01").await,
        "disputes start at the building"
    );
    let parties = dispute["parties"].as_array().unwrap();
    assert_eq!(parties.len(), 3);
    assert_eq!(parties[0]["role"], "applicant");
    assert_eq!(parties[1]["user_id"], neighbour);
    assert_eq!(parties[2]["name"], "李先生");
    // The applicant sees their own number, not the others'.
    assert!(parties[0]["phone"].is_string());
    assert!(parties[1]["phone"].is_null() && parties[2]["phone"].is_null());

    let respondent = app.token("resident02").await;
    let seen = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&respondent))
        .await
        .expect(200)
        .clone();
    assert!(seen["reporter"]["phone"].is_null() && seen["reporter"]["room"].is_null());
    assert_eq!(seen["parties"][0]["phone"], Value::Null);
    assert!(seen["parties"][1]["phone"].is_string(), "their own number");
    let listed = app.get("/api/v1/disputes", Some(&respondent)).await.expect(200).clone();
    assert_eq!(ids(&listed), [id]);
    let stranger = app.token("resident03").await;
    app.get(&format!("/api/v1/tickets/{id}"), Some(&stranger))
        .await
        .expect_problem(404, "not_found");
    // Staff see the parties' numbers, masked below committee level.
    let leader = app.token("jm.b1.bldg1").await;
    let staff_view = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&leader))
        .await
        .expect(200)
        .clone();
    assert_eq!(staff_view["parties"][2]["phone"], "139****1234");

    let res = app
        .post(
            "/api/v1/disputes",
            Some(&applicant),
            json!({"category": "neighbour_dispute", "title": "x", "description": "x", "respondents": []}),
        )
        .await;
    assert_eq!(res.error_fields(), ["respondents"]);
    let res = app
        .post(
            "/api/v1/disputes",
            Some(&applicant),
            json!({"category": "neighbour_dispute", "title": "x", "description": "x", "respondents": [{"user_id": 999999}]}),
        )
        .await;
    assert_eq!(res.error_fields(), ["respondents[0].user_id"]);
    let res = app
        .post(
            "/api/v1/disputes",
            Some(&applicant),
            json!({"category": "neighbour_dispute", "title": "x", "description": "x", "respondents": [{"user_id": neighbour, "name": "x"}]}),
        )
        .await;
    assert_eq!(res.error_fields(), ["respondents[0]"]);
    let res = app
        .post(
            "/api/v1/disputes",
            Some(&applicant),
            json!({"category": "neighbour_dispute", "title": "x", "description": "x", "anonymous": true, "respondents": [{"name": "x"}]}),
        )
        .await;
    assert_eq!(res.error_fields(), ["anonymous"], "disputes take no `anonymous` field");
}

#[actix_web::test]
async fn an_idempotency_key_replays_the_first_response() {
    let app = TestApp::with_demo().await;
    let token = app.token("resident01").await;
    let body = json!({"category": "noise", "title": "装修噪音", "description": "早上7点装修。"})
        .to_string()
        .into_bytes();
    let send = |key: &'static str, body: Vec<u8>| {
        let token = token.clone();
        let app = &app;
        async move {
            app.raw(
                Method::POST,
                "/api/v1/complaints",
                Some(&token),
                &[("Idempotency-Key", key)],
                Some(("application/json", body)),
            )
            .await
        }
    };
    let first = send("key-1", body.clone()).await;
    let second = send("key-1", body.clone()).await;
    first.expect(201);
    second.expect(201);
    assert_eq!(first.body["id"], second.body["id"]);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("location"), second.header("location"));
    let list = app.get("/api/v1/tickets", Some(&token)).await.expect(200).clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let other = json!({"category": "noise", "title": "另一件事", "description": "不同内容。"})
        .to_string()
        .into_bytes();
    let res = send("key-1", other.clone()).await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["Idempotency-Key"]);
    // After 24 hours the key is free again.
    app.clock.advance(Duration::hours(25));
    let token = app.token("resident01").await;
    let res = app
        .raw(
            Method::POST,
            "/api/v1/complaints",
            Some(&token),
            &[("Idempotency-Key", "key-1")],
            Some(("application/json", other)),
        )
        .await;
    assert_ne!(res.expect(201)["id"], first.body["id"]);

    // The same key from another user is another key.
    let neighbour = app.token("resident02").await;
    let res = app
        .raw(
            Method::POST,
            "/api/v1/complaints",
            Some(&neighbour),
            &[("Idempotency-Key", "key-1")],
            Some(("application/json", body)),
        )
        .await;
    assert_ne!(res.expect(201)["id"], first.body["id"]);
}

#[actix_web::test]
async fn concurrent_requests_with_one_key_file_one_ticket() {
    let app = TestApp::with_demo().await;
    let token = app.token("resident05").await;
    let body = json!({"category": "parking", "title": "乱停车", "description": "消防通道被占。"}).to_string();
    let requests = (0..6).map(|_| {
        app.raw(
            Method::POST,
            "/api/v1/complaints",
            Some(&token),
            &[("Idempotency-Key", "same-key")],
            Some(("application/json", body.clone().into_bytes())),
        )
    });
    let results = futures_util::future::join_all(requests).await;
    let ids: Vec<&Value> = results.iter().map(|r| &r.expect(201)["id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let list = app.get("/api/v1/tickets", Some(&token)).await.expect(200).clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn lists_filter_and_page_newest_first() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let r1 = app.token("resident01").await;
    let r4 = app.token("resident04").await;
    let a = file(&app, &r1, "noise", "装修噪音").await;
    let b = file(&app, &r1, "parking", "乱停车").await;
    let c = file(&app, &r4, "leak", "卫生间漏水").await;
    let (a, b, c) = (
        a["id"].as_i64().unwrap(),
        b["id"].as_i64().unwrap(),
        c["id"].as_i64().unwrap(),
    );

    let all = app.get("/api/v1/tickets", Some(&admin)).await.expect(200).clone();
    assert_eq!(ids(&all), [c, b, a]);
    let page = app
        .get("/api/v1/tickets?limit=2", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(ids(&page), [c, b]);
    let next = page["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("/api/v1/tickets?limit=2&cursor={next}"), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(ids(&rest), [a]);
    assert!(rest["next_cursor"].is_null());

    let q = |query: &str| {
        let admin = admin.clone();
        let app = &app;
        let query = query.to_owned();
        async move {
            ids(&app
                .get(&format!("/api/v1/tickets?{query}"), Some(&admin))
                .await
                .expect(200)
                .clone())
        }
    };
    assert_eq!(q("category=parking").await, [b]);
    assert_eq!(
        q(&format!("unit_id={}", app.unit_id(&admin, "JM-B1-02").await)).await,
        [c]
    );
    assert_eq!(
        q(&format!("unit_id={}", app.unit_id(&admin, "JM-B2").await)).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        q(&format!("unit_id={}", app.unit_id(&admin, "JM-B1").await)).await,
        [c, b, a]
    );
    let reporter = app.user_id(&admin, "resident04").await;
    assert_eq!(q(&format!("reporter_id={reporter}")).await, [c]);
    assert_eq!(q("q=%E6%BC%8F%E6%B0%B4").await, [c]); // 漏水
    assert_eq!(q("status=assigned&kind=complaint").await, [c, b, a]);
    assert_eq!(q("status=closed").await, Vec::<i64>::new());
    assert_eq!(
        ids(&app.get("/api/v1/disputes", Some(&admin)).await.expect(200).clone()),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&app.get("/api/v1/complaints", Some(&admin)).await.expect(200).clone()),
        [c, b, a]
    );
    let future = (Utc::now() + Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(q(&format!("created_from={future}")).await, Vec::<i64>::new());
    assert_eq!(q(&format!("created_to={future}")).await, [c, b, a]);
    assert_eq!(q(&format!("updated_since={future}")).await, Vec::<i64>::new());
    assert_eq!(q("overdue=true").await, Vec::<i64>::new());
    // Noise must be signed for within 24 h, parking and leaks too: a day later all are overdue.
    app.clock.advance(Duration::hours(25));
    let admin = app.token("jm.admin").await;
    let overdue = app
        .get("/api/v1/tickets?overdue=true", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(ids(&overdue), [c, b, a]);
    assert!(
        overdue["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["overdue"] == true)
    );

    let res = app.get("/api/v1/tickets?category=nope", Some(&admin)).await;
    assert_eq!(res.error_fields(), ["category"]);
    let res = app.get("/api/v1/tickets?status=lost&limit=0", Some(&admin)).await;
    assert_eq!(res.error_fields(), ["status"]);
    let res = app.get("/api/v1/tickets?limit=101", Some(&admin)).await;
    assert_eq!(res.error_fields(), ["limit"]);
    let res = app.get("/api/v1/tickets?created_from=yesterday", Some(&admin)).await;
    assert_eq!(res.error_fields(), ["created_from"]);
}

#[actix_web::test]
async fn each_caller_lists_only_what_they_may_see() {
    let app = TestApp::with_demo().await;
    let r1 = app.token("resident01").await; // 军门小区 1号楼, household H1
    let r4 = app.token("resident04").await; // 军门小区 2号楼
    let a = file(&app, &r1, "noise", "装修噪音").await["id"].as_i64().unwrap(); // at household H1
    let b = file(&app, &r4, "leak", "漏水").await["id"].as_i64().unwrap(); // at 2号楼
    let c = file(&app, &r1, "safety_hazard", "电线老化").await["id"]
        .as_i64()
        .unwrap(); // at the committee

    let sees = |username: &'static str| {
        let app = &app;
        async move {
            let token = app.token(username).await;
            ids(&app.get("/api/v1/tickets", Some(&token)).await.expect(200).clone())
        }
    };
    assert_eq!(sees("resident01").await, [c, a]);
    assert_eq!(sees("resident04").await, [b]);
    assert_eq!(sees("resident02").await, Vec::<i64>::new());
    assert_eq!(sees("jm.b1.bldg1.h1").await, [a]);
    assert_eq!(sees("jm.b1.bldg1.h2").await, Vec::<i64>::new());
    assert_eq!(sees("jm.b1.bldg1").await, [a]);
    assert_eq!(sees("jm.b1.bldg2").await, [b]);
    assert_eq!(sees("jm.branch1").await, [b, a]);
    assert_eq!(sees("jm.branch2").await, Vec::<i64>::new());
    assert_eq!(sees("jm.committee").await, [c, b, a]);
    assert_eq!(sees("jm.admin").await, [c, b, a]);

    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    assert!(ids(&app.get("/api/v1/tickets", Some(&other.admin)).await.expect(200).clone()).is_empty());
    app.get(&format!("/api/v1/tickets/{a}"), Some(&other.admin))
        .await
        .expect_problem(404, "not_found");
    let household2 = app.token("jm.b1.bldg1.h2").await;
    app.get(&format!("/api/v1/tickets/{a}"), Some(&household2))
        .await
        .expect_problem(404, "not_found");
    app.get(&format!("/api/v1/tickets/{a}/events"), Some(&household2))
        .await
        .expect_problem(404, "not_found");
    app.get("/api/v1/tickets/999999", Some(&root))
        .await
        .expect_problem(404, "not_found");
    assert_eq!(
        ids(&app.get("/api/v1/tickets", Some(&root)).await.expect(200).clone()),
        [c, b, a]
    );
}

#[actix_web::test]
async fn anonymous_reporters_are_hidden_below_branch_level_and_phones_masked() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let body =
        json!({"category": "noise", "title": "匿名反映噪音", "description": "不便透露姓名。", "anonymous": true});
    let id = app.post("/api/v1/complaints", Some(&resident), body).await.expect(201)["id"]
        .as_i64()
        .unwrap();
    let view = |username: &'static str| {
        let app = &app;
        async move {
            let token = app.token(username).await;
            app.get(&format!("/api/v1/tickets/{id}"), Some(&token))
                .await
                .expect(200)
                .clone()
        }
    };
    assert!(view("jm.b1.bldg1.h1").await["reporter"].is_null());
    assert!(view("jm.b1.bldg1").await["reporter"].is_null());
    let branch = view("jm.branch1").await;
    assert_eq!(branch["reporter"]["display_name"], "王芳");
    assert!(branch["reporter"]["phone"].as_str().unwrap().contains("****"));
    let committee = view("jm.committee").await;
    assert!(!committee["reporter"]["phone"].as_str().unwrap().contains('*'));
    assert!(
        !view("resident01").await["reporter"]["phone"]
            .as_str()
            .unwrap()
            .contains('*')
    );
    // The timeline does not give the reporter away either.
    let token = app.token("jm.b1.bldg1.h1").await;
    let events = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&token))
        .await
        .expect(200)
        .clone();
    assert!(events["items"][0]["actor"].is_null());

    let named = file(&app, &resident, "noise", "署名反映").await["id"].as_i64().unwrap();
    let token = app.token("jm.b1.bldg1.h1").await;
    let seen = app
        .get(&format!("/api/v1/tickets/{named}"), Some(&token))
        .await
        .expect(200)
        .clone();
    assert_eq!(seen["reporter"]["display_name"], "王芳");
    assert_eq!(seen["reporter"]["phone"].as_str().unwrap().len(), 11);
    assert!(seen["reporter"]["phone"].as_str().unwrap().contains("****"));
    let _ = PASSWORD;
}

#[actix_web::test]
async fn units_that_tickets_passed_through_are_neither_moved_nor_deleted() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let building = app.unit_id(&admin, "JM-B3-02").await;
    let household = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"level": "household", "name": "新中心户", "parent_id": building}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let root = app.superadmin().await;
    // A resident of that household files a noise complaint: it lands there.
    let resident = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "newcomer", "password": PASSWORD, "display_name": "新住户", "phone": "13712345678",
                "building_id": building, "room": "2-101"}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    app.patch(
        &format!("/api/v1/users/{resident}"),
        Some(&root),
        json!({"household_id": household}),
    )
    .await
    .expect(200);
    let token = app.token("newcomer").await;
    let ticket = file(&app, &token, "noise", "噪音").await;
    assert_eq!(ticket["current_unit_id"], household);
    app.patch(
        &format!("/api/v1/users/{resident}"),
        Some(&root),
        json!({"household_id": null}),
    )
    .await
    .expect(200);
    let res = app.delete(&format!("/api/v1/units/{household}"), Some(&admin)).await;
    let problem = res.expect_problem(409, "unit_in_use");
    assert!(problem["detail"].as_str().unwrap().contains("1 tickets"), "{problem}");
    let other_building = app.unit_id(&admin, "JM-B3-01").await;
    let res = app
        .patch(
            &format!("/api/v1/units/{household}"),
            Some(&admin),
            json!({"parent_id": other_building}),
        )
        .await;
    res.expect_problem(409, "unit_in_use");
}

#[actix_web::test]
async fn generated_tickets_are_served_like_filed_ones_and_filing_continues_after_them() {
    let app = TestApp::with_demo().await;
    let db = app.db.clone();
    let now = app.clock.now_naive();
    let added = actix_web::web::block(move || griddesk::generate::fill(&db, 2_000, now, 7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(added, 2_000);
    let db = app.db.clone();
    let again = actix_web::web::block(move || griddesk::generate::fill(&db, 2_000, now, 7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, 0, "the target is a total, not an increment");

    let admin = app.token("jm.admin").await;
    let page = app
        .get("/api/v1/tickets?limit=100", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 100);
    assert!(page["next_cursor"].is_string());
    let mut seen = std::collections::HashSet::new();
    let mut cursor = None::<String>;
    for _ in 0..25 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tickets?limit=100&cursor={c}"),
            None => "/api/v1/tickets?limit=100".to_owned(),
        };
        let page = app.get(&path, Some(&admin)).await.expect(200).clone();
        for t in page["items"].as_array().unwrap() {
            seen.insert(t["status"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8, "every status: {seen:?}");
    // Ids continue after the generated ones (PostgreSQL's sequence was moved on).
    let resident = app.token("resident01").await;
    let filed = file(&app, &resident, "noise", "生成数据之后的新诉求").await;
    assert!(filed["id"].as_i64().unwrap() > 2_000);
    let events = app
        .get(&format!("/api/v1/tickets/{}/events", filed["id"]), Some(&resident))
        .await
        .expect(200)
        .clone();
    assert_eq!(events["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn time_filters_find_what_was_filed_or_changed_in_a_window() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let older = file(&app, &resident, "noise", "早先的噪音").await["id"]
        .as_i64()
        .unwrap();
    app.clock.advance(Duration::hours(2));
    let between = app.clock.now();
    app.clock.advance(Duration::hours(2));
    let resident = app.token("resident01").await;
    let newer = file(&app, &resident, "parking", "新的停车问题").await["id"]
        .as_i64()
        .unwrap();
    let admin = app.token("jm.admin").await;
    let stamp = between
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        .replace('+', "%2B");
    let list = |query: String| {
        let app = &app;
        let admin = admin.clone();
        async move {
            ids(&app
                .get(&format!("/api/v1/tickets?{query}"), Some(&admin))
                .await
                .expect(200)
                .clone())
        }
    };
    assert_eq!(list(format!("created_from={stamp}")).await, [newer]);
    assert_eq!(list(format!("created_to={stamp}")).await, [older]);
    assert_eq!(list(format!("updated_since={stamp}")).await, [newer]);
    // Mobile sync: a change to the older ticket brings it into `updated_since`.
    let worker = app.token("jm.b1.bldg1.h1").await;
    app.post(&format!("/api/v1/tickets/{older}/accept"), Some(&worker), json!({}))
        .await
        .expect(200);
    assert_eq!(list(format!("updated_since={stamp}")).await, [newer, older]);
    assert_eq!(list(format!("created_from={stamp}")).await, [newer]);
}
