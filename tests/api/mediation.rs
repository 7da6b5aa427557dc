//! People's mediation (人民调解): parties, sessions, the agreement, the
//! settled/not-settled outcome and the 30-day follow-up (履行回访).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::support::TestApp;

pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// resident01 files a dispute against resident02; the building leader signs for it.
pub async fn accepted_dispute(app: &TestApp) -> i64 {
    let admin = app.token("jm.admin").await;
    let neighbour = app.user_id(&admin, "resident02").await;
    let applicant = app.token("resident01").await;
    let body = json!({"category": "neighbour_dispute", "title": "楼上漏水纠纷", "description": "卫生间漏水到楼下，协商未果。",
        "respondents": [{"user_id": neighbour}]});
    let id = app.post("/api/v1/disputes", Some(&applicant), body).await.expect(201)["id"]
        .as_i64()
        .unwrap();
    let leader = app.token("jm.b1.bldg1").await;
    app.post(&format!("/api/v1/tickets/{id}/accept"), Some(&leader), json!({}))
        .await
        .expect(200);
    id
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

fn event_kinds(events: &Value) -> Vec<String> {
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn follow_up_ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn staff_add_parties_and_parties_see_no_other_contact_details() {
    let app = TestApp::with_demo().await;
    let id = accepted_dispute(&app).await;
    let leader = app.token("jm.b1.bldg1").await;
    let admin = app.token("jm.admin").await;
    let path = format!("/api/v1/disputes/{id}/parties");

    let res = app
        .post(
            &path,
            Some(&leader),
            json!({"role": "respondent", "name": "物业公司张经理", "phone": "13900005678"}),
        )
        .await;
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/disputes/{id}/parties").as_str())
    );
    let added = res.expect(201).clone();
    assert_eq!(
        (added["role"].as_str(), added["name"].as_str(), added["phone"].as_str()),
        (Some("respondent"), Some("物业公司张经理"), Some("139****5678")),
        "a building leader sees phones masked"
    );
    let third = app.user_id(&admin, "resident03").await;
    app.post(&path, Some(&leader), json!({"role": "applicant", "user_id": third}))
        .await
        .expect(201);

    // Each resident account joins once; the reporter is a party already.
    let neighbour = app.user_id(&admin, "resident02").await;
    app.post(
        &path,
        Some(&leader),
        json!({"role": "respondent", "user_id": neighbour}),
    )
    .await
    .expect_problem(409, "already_party");
    let reporter = app.user_id(&admin, "resident01").await;
    let res = app
        .post(&path, Some(&leader), json!({"role": "respondent", "user_id": reporter}))
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["user_id"]);
    let res = app
        .post(
            &path,
            Some(&leader),
            json!({"role": "respondent", "user_id": third, "name": "重复"}),
        )
        .await;
    assert_eq!(res.error_fields(), ["user_id"]);
    let res = app
        .post(
            &path,
            Some(&leader),
            json!({"role": "witness", "name": "李四", "phone": "12345"}),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    let res = app
        .post(
            &path,
            Some(&leader),
            json!({"role": "respondent", "name": "李四", "phone": "12345"}),
        )
        .await;
    assert_eq!(res.error_fields(), ["phone"]);

    // Parties read, and the resident party added later finds it in their list.
    let as_third = app.token("resident03").await;
    let listed = app.get("/api/v1/disputes", Some(&as_third)).await.expect(200).clone();
    assert_eq!(listed["items"][0]["id"], id);
    let seen = app.get(&path, Some(&as_third)).await.expect(200).clone();
    let phones: Vec<(Option<i64>, bool)> = seen["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["user_id"].as_i64(), p["phone"].is_string()))
        .collect();
    assert_eq!(
        phones,
        [
            (Some(reporter), false),
            (Some(neighbour), false),
            (None, false),
            (Some(third), true)
        ],
        "a resident party sees only their own number"
    );
    let admin_view = app.get(&path, Some(&admin)).await.expect(200).clone();
    assert_eq!(
        admin_view["items"][2]["phone"], "13900005678",
        "admins see numbers in full"
    );

    // Parties may not add parties; strangers do not see the dispute at all.
    let as_neighbour = app.token("resident02").await;
    app.post(
        &path,
        Some(&as_neighbour),
        json!({"role": "respondent", "name": "王五"}),
    )
    .await
    .expect_problem(403, "forbidden");
    let stranger = app.token("resident04").await;
    app.get(&path, Some(&stranger)).await.expect_problem(404, "not_found");
    let elsewhere = app.token("jm.b2.bldg1").await;
    app.get(&path, Some(&elsewhere)).await.expect_problem(404, "not_found");

    // Parties comment publicly; the timeline names who was added, never their phone.
    app.post(
        &format!("/api/v1/tickets/{id}/comments"),
        Some(&as_neighbour),
        json!({"body": "我同意参加调解。"}),
    )
    .await
    .expect(201);
    let events = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&as_neighbour))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        event_kinds(&events),
        ["filed", "accept", "party_added", "party_added", "comment"]
    );
    assert_eq!(events["items"][2]["note"], "respondent: 物业公司张经理");
    assert!(!events.to_string().contains("5678"));

    // A complaint has no parties endpoint.
    let complaint = crate::tickets::file(&app, &app.token("resident01").await, "noise", "噪音").await;
    app.get(&format!("/api/v1/disputes/{}/parties", complaint["id"]), Some(&admin))
        .await
        .expect_problem(404, "not_found");
}

#[actix_web::test]
async fn a_dispute_is_mediated_settled_under_an_agreement_and_followed_up() {
    let app = TestApp::with_demo().await;
    let id = accepted_dispute(&app).await;
    app.clock.advance(Duration::hours(2));
    let now = app.clock.now();
    let leader = app.token("jm.b1.bldg1").await;
    let admin = app.token("jm.admin").await;
    let mediator = app.user_id(&admin, "jm.committee").await;
    let sessions = format!("/api/v1/disputes/{id}/mediations");

    // Without an agreement a dispute cannot be resolved as settled.
    app.post(
        &format!("/api/v1/tickets/{id}/resolve"),
        Some(&leader),
        json!({"note": "已调解"}),
    )
    .await
    .expect_problem(409, "agreement_required");

    // Sessions: held in the past, by staff of this community.
    let session = |held: DateTime<Utc>, mediator: i64, outcome: Option<&str>| {
        let mut body = json!({"held_at": stamp(held), "mediator_id": mediator, "summary": "双方到场，陈述各自意见。"});
        if let Some(outcome) = outcome {
            body["outcome"] = json!(outcome);
        }
        body
    };
    let res = app
        .post(
            &sessions,
            Some(&leader),
            session(now + Duration::hours(2), mediator, None),
        )
        .await;
    assert_eq!(res.error_fields(), ["held_at"]);
    let res = app
        .post(
            &sessions,
            Some(&leader),
            session(now - Duration::days(3), mediator, None),
        )
        .await;
    assert_eq!(res.error_fields(), ["held_at"], "before the dispute was filed");
    let resident = app.user_id(&admin, "resident05").await;
    let res = app
        .post(
            &sessions,
            Some(&leader),
            session(now - Duration::minutes(30), resident, None),
        )
        .await;
    assert_eq!(res.error_fields(), ["mediator_id"], "a resident is no mediator");
    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    let res = app
        .post(
            &sessions,
            Some(&leader),
            session(now - Duration::minutes(30), other.admin_id, None),
        )
        .await;
    assert_eq!(res.error_fields(), ["mediator_id"], "nor is another community's admin");
    let res = app
        .post(
            &sessions,
            Some(&leader),
            session(now - Duration::minutes(10), mediator, Some("maybe")),
        )
        .await;
    res.expect_problem(422, "validation_failed");

    let later = app
        .post(
            &sessions,
            Some(&leader),
            session(now - Duration::minutes(20), mediator, Some("settled")),
        )
        .await;
    assert_eq!(
        later.header("location"),
        Some(format!("/api/v1/disputes/{id}/mediations").as_str())
    );
    let later = later.expect(201).clone();
    assert_eq!(later["mediator"]["display_name"], "社区专职网格员");
    assert_eq!(later["outcome"], "settled");
    let earlier = app
        .post(
            &sessions,
            Some(&leader),
            session(now - Duration::minutes(90), mediator, None),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(earlier["outcome"], Value::Null);
    // Parties read the sessions, in the order they were held.
    let as_neighbour = app.token("resident02").await;
    let list = app.get(&sessions, Some(&as_neighbour)).await.expect(200).clone();
    let order: Vec<&Value> = list["items"].as_array().unwrap().iter().map(|s| &s["id"]).collect();
    assert_eq!(order, [&earlier["id"], &later["id"]]);
    app.post(
        &sessions,
        Some(&as_neighbour),
        session(now - Duration::minutes(5), mediator, None),
    )
    .await
    .expect_problem(403, "forbidden");

    // The agreement: 404 until recorded; a deadline in the future.
    let agreement = format!("/api/v1/disputes/{id}/agreement");
    app.get(&agreement, Some(&leader))
        .await
        .expect_problem(404, "not_found");
    let put = |terms: &str, deadline: DateTime<Utc>| json!({"terms": terms, "performance_deadline": stamp(deadline)});
    let now = app.clock.now();
    let res = app
        .request(
            actix_web::http::Method::PUT,
            &agreement,
            Some(&leader),
            Some(put("修复防水层", now - Duration::days(1))),
        )
        .await;
    assert_eq!(res.error_fields(), ["performance_deadline"]);
    let res = app
        .request(
            actix_web::http::Method::PUT,
            &agreement,
            Some(&leader),
            Some(put("楼上住户于月底前修复防水层。", now + Duration::days(20))),
        )
        .await;
    let first = res.expect(201).clone();
    assert_eq!(first["follow_ups"].as_array().unwrap().len(), 1);
    assert_eq!(
        time(&first["follow_ups"][0]["due_at"]),
        time(&first["created_at"]) + Duration::days(30)
    );

    // Revising it moves the open follow-up and keeps the old terms on the timeline.
    app.clock.advance(Duration::days(1));
    let now = app.clock.now();
    let (leader, as_neighbour) = (app.token("jm.b1.bldg1").await, app.token("resident02").await);
    let revised = app
        .request(
            actix_web::http::Method::PUT,
            &agreement,
            Some(&leader),
            Some(put(
                "楼上住户于月底前修复防水层，并赔偿修缮费800元。",
                now + Duration::days(25),
            )),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(revised["follow_ups"].as_array().unwrap().len(), 1);
    assert_eq!(
        time(&revised["follow_ups"][0]["due_at"]),
        time(&revised["updated_at"]) + Duration::days(30),
        "30 days after the revision"
    );
    assert_eq!(revised["created_at"], first["created_at"]);
    let follow_up = revised["follow_ups"][0]["id"].as_i64().unwrap();
    let seen = app.get(&agreement, Some(&as_neighbour)).await.expect(200).clone();
    assert_eq!(seen["terms"], "楼上住户于月底前修复防水层，并赔偿修缮费800元。");

    // Not while the dispute is open: the follow-up waits for the settlement.
    let record = format!("/api/v1/follow-ups/{follow_up}/record");
    app.post(&record, Some(&leader), json!({"result": "fulfilled"}))
        .await
        .expect_problem(409, "dispute_not_settled");

    let resolved = app
        .post(
            &format!("/api/v1/tickets/{id}/resolve"),
            Some(&leader),
            json!({"note": "调解成功，双方签订调解协议。"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (resolved["status"].as_str(), resolved["outcome"].as_str()),
        (Some("resolved"), Some("settled"))
    );
    app.request(
        actix_web::http::Method::PUT,
        &agreement,
        Some(&leader),
        Some(put("改", now + Duration::days(25))),
    )
    .await
    .expect_problem(409, "ticket_not_open");

    // The follow-up is upcoming, then due 30 days after the agreement.
    let branch = app.token("jm.branch1").await;
    let due = app.get("/api/v1/follow-ups", Some(&branch)).await.expect(200).clone();
    assert_eq!(follow_up_ids(&due), Vec::<i64>::new());
    let upcoming = app
        .get("/api/v1/follow-ups?state=upcoming", Some(&branch))
        .await
        .expect(200)
        .clone();
    assert_eq!(follow_up_ids(&upcoming), [follow_up]);
    app.clock.advance(Duration::days(30));
    // Tokens live 15 minutes: sign in again after the jump.
    let (branch, admin, as_neighbour) = (
        app.token("jm.branch1").await,
        app.token("jm.admin").await,
        app.token("resident02").await,
    );
    let other_admin = app.token("hq.admin").await;
    let due = app.get("/api/v1/follow-ups", Some(&branch)).await.expect(200).clone();
    assert_eq!(follow_up_ids(&due), [follow_up]);
    let item = &due["items"][0];
    assert_eq!(
        (
            item["ticket_id"].as_i64(),
            item["overdue"].as_bool(),
            item["title"].as_str()
        ),
        (Some(id), Some(true), Some("楼上漏水纠纷"))
    );
    assert_eq!(item["performance_deadline"], revised["performance_deadline"]);
    let building = app.unit_id(&admin, "JM-B1-01").await;
    let other_branch = app.unit_id(&admin, "JM-B2").await;
    let by_unit = |unit: i64| format!("/api/v1/follow-ups?unit_id={unit}");
    assert_eq!(
        follow_up_ids(app.get(&by_unit(building), Some(&admin)).await.expect(200)),
        [follow_up]
    );
    assert_eq!(
        follow_up_ids(app.get(&by_unit(other_branch), Some(&admin)).await.expect(200)),
        Vec::<i64>::new()
    );
    let household = app.token("jm.b1.bldg1.h1").await;
    assert_eq!(
        follow_up_ids(app.get("/api/v1/follow-ups", Some(&household)).await.expect(200)),
        Vec::<i64>::new(),
        "the dispute is held at the building, above the household"
    );
    app.get(&by_unit(other.branch), Some(&admin))
        .await
        .expect_problem(404, "not_found");
    app.get("/api/v1/follow-ups", Some(&as_neighbour))
        .await
        .expect_problem(403, "forbidden");
    let res = app.get("/api/v1/follow-ups?state=late", Some(&admin)).await;
    res.expect_problem(422, "validation_failed");

    // Recording closes it, once, by staff working the dispute.
    app.post(&record, Some(&as_neighbour), json!({"result": "fulfilled"}))
        .await
        .expect_problem(403, "forbidden");
    app.post(&record, Some(&other_admin), json!({"result": "fulfilled"}))
        .await
        .expect_problem(404, "not_found");
    let res = app.post(&record, Some(&branch), json!({"result": "kept"})).await;
    res.expect_problem(422, "validation_failed");
    let done = app
        .post(
            &record,
            Some(&branch),
            json!({"result": "partly_fulfilled", "note": "防水层已修复，赔偿尚未支付。"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (done["result"].as_str(), done["overdue"].as_bool()),
        (Some("partly_fulfilled"), Some(false))
    );
    assert_eq!(done["recorded_by"]["id"], app.user_id(&admin, "jm.branch1").await);
    app.post(&record, Some(&branch), json!({"result": "fulfilled"}))
        .await
        .expect_problem(409, "follow_up_recorded");
    assert_eq!(
        follow_up_ids(app.get("/api/v1/follow-ups", Some(&branch)).await.expect(200)),
        Vec::<i64>::new()
    );
    assert_eq!(
        follow_up_ids(
            app.get("/api/v1/follow-ups?state=done", Some(&branch))
                .await
                .expect(200)
        ),
        [follow_up]
    );

    let events = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        event_kinds(&events),
        [
            "filed",
            "accept",
            "mediation",
            "mediation",
            "agreement",
            "agreement_revised",
            "resolve",
            "follow_up"
        ]
    );
    let revision = events["items"][5]["note"].as_str().unwrap();
    assert!(revision.contains("楼上住户于月底前修复防水层。"), "{revision}");
    assert_eq!(
        events["items"][7]["note"],
        "partly_fulfilled: 防水层已修复，赔偿尚未支付。"
    );
}

#[actix_web::test]
async fn an_unsettled_dispute_is_referred_and_a_reopened_one_is_no_longer_settled() {
    let app = TestApp::with_demo().await;
    let id = accepted_dispute(&app).await;
    let leader = app.token("jm.b1.bldg1").await;
    let escalate = format!("/api/v1/tickets/{id}/escalate");
    app.post(&escalate, Some(&leader), json!({"reason": "调解不成"}))
        .await
        .expect(200);
    let branch = app.token("jm.branch1").await;
    app.post(&format!("/api/v1/tickets/{id}/accept"), Some(&branch), json!({}))
        .await
        .expect(200);
    app.post(&escalate, Some(&branch), json!({"reason": "调解不成"}))
        .await
        .expect(200);
    let committee = app.token("jm.committee").await;
    app.post(&format!("/api/v1/tickets/{id}/accept"), Some(&committee), json!({}))
        .await
        .expect(200);
    let referred = app
        .post(
            &format!("/api/v1/tickets/{id}/refer"),
            Some(&committee),
            json!({"target": "鼓楼区人民调解委员会"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (referred["status"].as_str(), referred["outcome"].as_str()),
        (Some("referred"), Some("not_settled"))
    );
    // Closed to new records.
    app.post(
        &format!("/api/v1/disputes/{id}/parties"),
        Some(&committee),
        json!({"role": "respondent", "name": "王五"}),
    )
    .await
    .expect_problem(409, "ticket_not_open");

    // A complaint has no outcome, referred or not.
    let resident = app.token("resident01").await;
    let complaint = crate::tickets::file(&app, &resident, "safety_hazard", "消防通道堵塞").await;
    let cid = complaint["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/tickets/{cid}/accept"), Some(&committee), json!({}))
        .await
        .expect(200);
    let referred = app
        .post(
            &format!("/api/v1/tickets/{cid}/refer"),
            Some(&committee),
            json!({"target": "12345"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(referred["outcome"], Value::Null);

    // Settled, then reopened by the reporter: no longer settled, and its
    // follow-up waits until it is settled again.
    let id = accepted_dispute(&app).await;
    app.request(
        actix_web::http::Method::PUT,
        &format!("/api/v1/disputes/{id}/agreement"),
        Some(&leader),
        Some(json!({"terms": "双方互谅互让。", "performance_deadline": stamp(app.clock.now() + Duration::days(10))})),
    )
    .await
    .expect(201);
    app.post(
        &format!("/api/v1/tickets/{id}/resolve"),
        Some(&leader),
        json!({"note": "调解成功"}),
    )
    .await
    .expect(200);
    let reopened = app
        .post(
            &format!("/api/v1/tickets/{id}/reopen"),
            Some(&resident),
            json!({"reason": "对方没有履行"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(reopened["outcome"], Value::Null);
    app.clock.advance(Duration::days(31));
    let leader = app.token("jm.b1.bldg1").await;
    let due = app.get("/api/v1/follow-ups", Some(&leader)).await.expect(200).clone();
    assert_eq!(follow_up_ids(&due), Vec::<i64>::new());
}

/// One community's residents never appear in another's files: a resident
/// party lives in the dispute's community, whether named when filing or
/// added by staff; the refusal is the one an unknown id gets.
#[actix_web::test]
async fn a_resident_party_lives_in_the_dispute_community() {
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    let applicant = app.token("resident01").await;
    let dispute = |respondent: Value| {
        json!({"category": "neighbour_dispute", "title": "楼上漏水纠纷", "description": "卫生间漏水到楼下，协商未果。",
            "respondents": [respondent]})
    };
    for user_id in [other.resident_id, 999_999] {
        let res = app
            .post(
                "/api/v1/disputes",
                Some(&applicant),
                dispute(json!({"user_id": user_id})),
            )
            .await;
        res.expect_problem(422, "validation_failed");
        assert_eq!(res.error_fields(), ["respondents[0].user_id"]);
        assert_eq!(res.body["errors"][0]["code"], "not_found", "{user_id}");
    }
    // A neighbour without a known account is named as an outside party.
    let id = app
        .post(
            "/api/v1/disputes",
            Some(&applicant),
            dispute(json!({"name": "钱多多", "phone": "13900000002"})),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let leader = app.token("jm.b1.bldg1").await;
    app.post(&format!("/api/v1/tickets/{id}/accept"), Some(&leader), json!({}))
        .await
        .expect(200);
    let parties = format!("/api/v1/disputes/{id}/parties");
    let res = app
        .post(
            &parties,
            Some(&leader),
            json!({"role": "respondent", "user_id": other.resident_id}),
        )
        .await;
    res.expect_problem(422, "validation_failed");
    assert_eq!(res.error_fields(), ["user_id"]);
    // The other community's resident did not become a reader of the dispute.
    let theirs = app.token("hq.resident").await;
    app.get(&format!("/api/v1/tickets/{id}"), Some(&theirs))
        .await
        .expect_problem(404, "not_found");
    let list = app.get(&parties, Some(&leader)).await.expect(200).clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
}
