//! `q=`: text search from the index (`ticket_search`), confirmed by the
//! substring test, with the lists' visibility and the anonymity rule: a
//! reporter's name or room matches only for callers who may see the
//! reporter.

use std::collections::BTreeSet;

use diesel_migrations::MigrationHarness;
use griddesk::db::{AnyConnection, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp};

fn encode(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

/// The ids `q` finds for `token`, newest first (one page of 100).
pub(crate) async fn search(app: &TestApp, token: &str, q: &str) -> Vec<i64> {
    ids(app
        .get(&format!("/api/v1/tickets?limit=100&q={}", encode(q)), Some(token))
        .await
        .expect(200))
}

async fn found(app: &TestApp, token: &str, q: &str) -> BTreeSet<i64> {
    search(app, token, q).await.into_iter().collect()
}

/// Files a complaint as committee staff for `resident` (staff filing is
/// not limited per hour).
async fn file_for(app: &TestApp, staff: &str, resident: i64, body: Value) -> i64 {
    let mut body = body;
    body["on_behalf_of"] = json!(resident);
    if body.get("category").is_none() {
        body["category"] = json!("noise");
    }
    app.post("/api/v1/complaints", Some(staff), body).await.expect(201)["id"]
        .as_i64()
        .unwrap()
}

async fn file(app: &TestApp, token: &str, title: &str, description: &str) -> i64 {
    let body = json!({"category": "noise", "title": title, "description": description});
    app.post("/api/v1/complaints", Some(token), body).await.expect(201)["id"]
        .as_i64()
        .unwrap()
}

#[actix_web::test]
async fn chinese_words_characters_and_phrases_are_found_and_misses_are_empty() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let staff = app.token("jm.committee").await;
    let r2 = app.user_id(&admin, "resident02").await;
    let leak = file_for(
        &app,
        &staff,
        r2,
        json!({"category": "leak", "title": "楼上漏水", "description": "卫生间漏水到我家天花板。"}),
    )
    .await;
    let noise = file_for(
        &app,
        &staff,
        r2,
        json!({"title": "夜间噪音扰民", "description": "楼上深夜噪音，影响休息。", "location": "3号楼东侧"}),
    )
    .await;
    // Every pair of 楼道漏水 is here, but never the four together.
    let apart = file_for(
        &app,
        &staff,
        r2,
        json!({"title": "下水道漏了", "description": "楼道里到处是水，楼上漏水。"}),
    )
    .await;

    assert_eq!(search(&app, &admin, "漏水").await, [apart, leak]);
    assert_eq!(search(&app, &admin, "噪音").await, [noise]);
    assert_eq!(search(&app, &admin, "漏").await, [apart, leak], "one character");
    assert_eq!(search(&app, &admin, "噪").await, [noise]);
    assert_eq!(search(&app, &admin, "楼上深夜噪音").await, [noise], "a phrase");
    assert_eq!(search(&app, &admin, "天花板").await, [leak]);
    assert_eq!(search(&app, &admin, "3号楼东侧").await, [noise], "the location");
    assert_eq!(search(&app, &admin, "东侧").await, [noise]);
    assert_eq!(search(&app, &admin, "道漏").await, [apart]);
    // The index offers `apart` for 楼道漏水 (all its pairs are there); the
    // substring test turns it down.
    assert!(search(&app, &admin, "楼道漏水").await.is_empty());
    assert!(search(&app, &admin, "漏电").await.is_empty(), "a miss");
    assert!(search(&app, &admin, "深夜楼上").await.is_empty());
    assert!(search(&app, &admin, "停车").await.is_empty());
    // Parts separated by spaces are each found, in any order.
    assert_eq!(search(&app, &admin, "噪音 楼上").await, [noise]);
    assert_eq!(search(&app, &admin, "楼上  漏水").await, [apart, leak]);
    assert!(search(&app, &admin, "漏水 噪音").await.is_empty());
    // The same through the complaint list and the export.
    let complaints = app
        .get(&format!("/api/v1/complaints?q={}", encode("噪音")), Some(&admin))
        .await;
    assert_eq!(ids(complaints.expect(200)), [noise]);
    let csv = app
        .get(&format!("/api/v1/tickets/export?q={}", encode("漏水")), Some(&admin))
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.text.contains("楼上漏水") && csv.text.contains("下水道漏了"),
        "{}",
        csv.text
    );
    assert!(!csv.text.contains("夜间噪音扰民"), "{}", csv.text);
}

#[actix_web::test]
async fn latin_words_are_found_in_any_case_from_the_start_of_a_word() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let staff = app.token("jm.committee").await;
    let r3 = app.user_id(&admin, "resident03").await;
    let lift = file_for(
        &app,
        &staff,
        r3,
        json!({"title": "Water in Lift B", "description": "The LIFT floods when it rains; WiFi router B302 is wet."}),
    )
    .await;
    let other = file_for(
        &app,
        &staff,
        r3,
        json!({"title": "Noisy lifts", "description": "lifting at night"}),
    )
    .await;
    for q in [
        "water",
        "WATER",
        "Water",
        "wat",
        "floods",
        "rain",
        "wifi",
        "b302",
        "302",
        "WiFi router",
    ] {
        assert_eq!(search(&app, &admin, q).await, [lift], "{q}");
    }
    assert_eq!(search(&app, &admin, "lift").await, [other, lift]);
    assert_eq!(search(&app, &admin, "LIFT B").await, [lift]);
    assert_eq!(search(&app, &admin, "noisy").await, [other]);
    // A word longer than the index keeps (3,000 letters) is found by any
    // beginning of it.
    let long = "x".repeat(3_000);
    let very_long = file_for(&app, &staff, r3, json!({"title": "Long word", "description": long})).await;
    assert_eq!(search(&app, &admin, &"X".repeat(100)).await, [very_long]);
    assert_eq!(search(&app, &admin, "xxxx").await, [very_long]);
    assert!(search(&app, &admin, &format!("{} b", "x".repeat(60))).await.is_empty());
    // Inside a word is no match: words are found from their start.
    assert!(search(&app, &admin, "ater").await.is_empty());
    assert!(search(&app, &admin, "02").await.is_empty());
    assert!(search(&app, &admin, "snow").await.is_empty());
}

#[actix_web::test]
async fn like_wildcards_and_punctuation_match_only_themselves() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let staff = app.token("jm.committee").await;
    let r4 = app.user_id(&admin, "resident04").await;
    let percent = file_for(
        &app,
        &staff,
        r4,
        json!({"title": "物业费上涨50%", "description": "涨幅过大。"}),
    )
    .await;
    let underscore = file_for(
        &app,
        &staff,
        r4,
        json!({"title": "账单编号 a_b", "description": "看不懂。"}),
    )
    .await;
    let plain = file_for(
        &app,
        &staff,
        r4,
        json!({"title": "物业费 50 元", "description": "ab 两项。"}),
    )
    .await;
    for q in ["%", "_", "%%", "%_%", "\\", "，。", "-"] {
        assert!(search(&app, &admin, q).await.is_empty(), "{q:?} matches nothing");
    }
    assert_eq!(search(&app, &admin, "50%").await, [percent]);
    assert_eq!(search(&app, &admin, "a_b").await, [underscore]);
    assert_eq!(search(&app, &admin, "50").await, [plain, percent]);
    assert_eq!(search(&app, &admin, "物业费").await, [plain, percent]);
}

#[actix_web::test]
async fn room_numbers_are_found_whole_or_by_their_numbers() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let staff = app.token("jm.committee").await;
    let building = app.unit_id(&admin, "JM-B1-01").await;
    // A neighbour whose room holds resident01's (1-101) inside it.
    let neighbour = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "neighbour11", "password": PASSWORD, "display_name": "邻居老赵",
                "phone": "13900000077", "building_id": building, "room": "11-1012"}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let r1 = app.user_id(&admin, "resident01").await;
    let mine = file_for(
        &app,
        &staff,
        r1,
        json!({"title": "楼道灯坏了", "description": "晚上看不见。"}),
    )
    .await;
    let theirs = file_for(
        &app,
        &staff,
        neighbour,
        json!({"title": "楼道灯坏了", "description": "晚上看不见。"}),
    )
    .await;
    let text = file_for(
        &app,
        &staff,
        neighbour,
        json!({"title": "3-602 漏水", "description": "602室天花板渗水。"}),
    )
    .await;

    assert_eq!(search(&app, &admin, "1-101").await, [mine], "not 11-1012");
    assert_eq!(search(&app, &admin, "11-1012").await, [text, theirs]);
    assert_eq!(
        search(&app, &admin, "11-10").await,
        [text, theirs],
        "an unfinished room"
    );
    assert_eq!(
        search(&app, &admin, "101").await,
        [text, theirs, mine],
        "101 begins 1012"
    );
    assert!(search(&app, &admin, "1-1012").await.is_empty(), "11 is not 1");
    assert_eq!(search(&app, &admin, "1012").await, [text, theirs]);
    assert_eq!(search(&app, &admin, "3-602").await, [text], "a room in the text");
    assert_eq!(search(&app, &admin, "602").await, [text]);
    assert!(search(&app, &admin, "2-602").await.is_empty());
}

#[actix_web::test]
async fn residents_find_only_their_own_tickets_and_other_communities_never_match() {
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    let r1 = app.token("resident01").await;
    let r2 = app.token("resident02").await;
    let own = file(&app, &r1, "楼上漏水", "卫生间漏水。").await;
    let neighbours = file(&app, &r2, "楼上漏水", "卫生间漏水。").await;
    let there = file(&app, &app.token("hq.resident").await, "楼上漏水", "卫生间漏水。").await;

    assert_eq!(search(&app, &r1, "漏水").await, [own]);
    assert_eq!(search(&app, &r2, "漏水").await, [neighbours]);
    assert_eq!(search(&app, &r1, "王芳").await, [own], "their own name");
    assert!(search(&app, &r2, "王芳").await.is_empty(), "nobody else's");
    let admin = app.token("jm.admin").await;
    assert_eq!(search(&app, &admin, "漏水").await, [neighbours, own]);
    assert_eq!(search(&app, &other.admin, "漏水").await, [there]);
    assert_eq!(search(&app, &other.admin, "王芳").await, Vec::<i64>::new());
    assert_eq!(search(&app, &admin, "钱多多").await, Vec::<i64>::new(), "HQ's resident");
    assert_eq!(search(&app, &root, "漏水").await, [there, neighbours, own]);
}

/// PRODUCT: anonymous tickets hide the reporter from household and
/// building levels on every path, list filters included. Searching the
/// reporter's name or room must answer those callers exactly as before the
/// anonymous ticket was filed, while its text is found like any other.
#[actix_web::test]
async fn a_name_or_room_is_no_oracle_for_who_filed_anonymously() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let named = file(&app, &resident, "楼上装修", "早上七点开始电钻。").await;
    let callers = [
        ("jm.b1.bldg1.h1", false),
        ("jm.b1.bldg1", false),
        ("jm.branch1", true),
        ("jm.committee", true),
        ("jm.admin", true),
        ("resident01", true),
    ];
    let queries = ["王芳", "王", "芳", "1-101", "101", "王芳 装修", "王芳 匿名"];
    let mut before = Vec::new();
    for (name, _) in callers {
        let token = app.token(name).await;
        let mut answers = Vec::new();
        for q in queries {
            answers.push(found(&app, &token, q).await);
        }
        before.push(answers);
    }
    let body = json!({"category": "noise", "title": "匿名反映噪音", "description": "夜间噪音，不便透露姓名。",
        "anonymous": true});
    let hidden = app.post("/api/v1/complaints", Some(&resident), body).await.expect(201)["id"]
        .as_i64()
        .unwrap();

    for ((name, sees), before) in callers.into_iter().zip(before) {
        let token = app.token(name).await;
        assert!(found(&app, &token, "").await.contains(&named));
        assert_eq!(
            found(&app, &token, "匿名").await,
            BTreeSet::from([hidden]),
            "{name} reads the ticket, so its text is found"
        );
        for (q, before) in queries.into_iter().zip(before) {
            let after = found(&app, &token, q).await;
            if sees && q != "王芳 装修" {
                let mut expected = before.clone();
                expected.insert(hidden);
                assert_eq!(after, expected, "{name} sees the reporter: {q:?} finds the new ticket");
            } else {
                assert_eq!(
                    after, before,
                    "{name}: {q:?} must answer as before the anonymous ticket"
                );
            }
        }
        // The ticket filed under the name is found by it for everyone
        // who reads it: the rule hides only the anonymous one.
        assert!(found(&app, &token, "王芳").await.contains(&named), "{name}");
    }
}

#[actix_web::test]
async fn a_new_name_is_found_at_once_and_the_old_one_no_longer() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let id = file(&app, &resident, "楼上装修", "早上七点开始电钻。").await;
    assert_eq!(search(&app, &admin, "王芳").await, [id]);
    let r1 = app.user_id(&admin, "resident01").await;
    app.patch(
        &format!("/api/v1/users/{r1}"),
        Some(&admin),
        json!({"display_name": "王小芳"}),
    )
    .await
    .expect(200);
    assert!(search(&app, &admin, "王芳").await.is_empty());
    assert_eq!(search(&app, &admin, "王小芳").await, [id]);
    app.patch("/api/v1/me", Some(&resident), json!({"display_name": "Wang Fang"}))
        .await
        .expect(200);
    assert!(search(&app, &admin, "小芳").await.is_empty());
    assert_eq!(search(&app, &admin, "wang").await, [id]);
    assert_eq!(search(&app, &admin, "装修").await, [id], "the text stays indexed");
}

#[actix_web::test]
async fn search_pages_newest_first_with_the_cursor() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let staff = app.token("jm.committee").await;
    let r5 = app.user_id(&admin, "resident05").await;
    let mut filed = Vec::new();
    for i in 0..5 {
        filed.push(
            file_for(
                &app,
                &staff,
                r5,
                json!({"title": format!("噪音第{i}次"), "description": "深夜。"}),
            )
            .await,
        );
        file_for(&app, &staff, r5, json!({"title": "路灯不亮", "description": "很黑。"})).await;
    }
    filed.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tickets?limit=2&q={}&cursor={c}", encode("噪音")),
            None => format!("/api/v1/tickets?limit=2&q={}", encode("噪音")),
        };
        let page = app.get(&path, Some(&admin)).await.expect(200).clone();
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, filed);
}

/// What the index answers equals the plain substring test (the semantics
/// before the index) for every Chinese substring of the sample's texts and
/// every name and room, as an admin who sees every reporter.
#[actix_web::test]
async fn results_equal_the_substring_test_on_a_sample() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let staff = app.token("jm.committee").await;
    let titles = [
        "楼上漏水",
        "夜间噪音扰民",
        "电动车楼道充电",
        "楼道垃圾无人清理",
        "车位被占用",
        "路灯不亮",
    ];
    let details = [
        "卫生间漏水到我家天花板",
        "深夜有人大声喧哗",
        "有住户在楼道飞线充电",
        "垃圾堆放多日",
    ];
    let places = ["楼道", "电梯口", "地下车库", "小区东门"];
    let mut residents = Vec::new();
    for n in [1, 2, 3, 7, 19] {
        let username = format!("resident{n:02}");
        let id = app.user_id(&admin, &username).await;
        let user = app
            .get(&format!("/api/v1/users/{id}"), Some(&admin))
            .await
            .expect(200)
            .clone();
        residents.push((
            id,
            user["display_name"].as_str().unwrap().to_owned(),
            user["room"].as_str().unwrap().to_owned(),
        ));
    }
    // (id, searchable texts).
    let mut tickets: Vec<(i64, Vec<String>)> = Vec::new();
    for i in 0..24 {
        let (resident, name, room) = &residents[i % residents.len()];
        let title = titles[i % titles.len()];
        let description = format!(
            "{}，地点在{}。",
            details[(i / 2) % details.len()],
            places[(i / 3) % places.len()]
        );
        let place = places[(i * 5) % places.len()];
        let id = file_for(
            &app,
            &staff,
            *resident,
            json!({"title": title, "description": description, "location": place}),
        )
        .await;
        tickets.push((
            id,
            vec![
                title.to_owned(),
                description,
                place.to_owned(),
                name.clone(),
                room.clone(),
            ],
        ));
    }
    // Chinese substrings (up to four characters) of every text; names and
    // rooms whole. (Digits inside a number, `01` of `1-101`, are no longer
    // found: words and numbers match from their start.)
    let mut queries = BTreeSet::new();
    for (_, texts) in &tickets {
        for text in texts {
            for run in text.split(|c: char| c.is_ascii() || c == '，' || c == '。') {
                let chars: Vec<char> = run.chars().collect();
                for len in 1..=4 {
                    for window in chars.windows(len) {
                        queries.insert(window.iter().collect::<String>());
                    }
                }
            }
        }
        queries.insert(texts[3].clone());
        queries.insert(texts[4].clone());
    }
    queries.extend(["漏电", "噪声", "充电桩", "1-1", "2-10"].map(str::to_owned));
    for q in &queries {
        let mut expected: Vec<i64> = tickets
            .iter()
            .filter(|(_, texts)| texts.iter().any(|t| t.to_lowercase().contains(&q.to_lowercase())))
            .map(|(id, _)| *id)
            .collect();
        expected.reverse();
        assert_eq!(search(&app, &admin, q).await, expected, "{q:?}");
    }
}

/// Tickets filed before the index existed: migrating a database that holds
/// tickets marks them, and the next start gives them their tokens.
#[actix_web::test]
async fn tickets_filed_before_the_index_are_found_after_the_next_start() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let staff = app.token("jm.committee").await;
    let r2 = app.user_id(&admin, "resident02").await;
    let mut filed = Vec::new();
    for i in 0..5 {
        filed.push(
            file_for(
                &app,
                &staff,
                r2,
                json!({"title": format!("漏水第{i}次"), "description": "楼上。"}),
            )
            .await,
        );
    }
    filed.reverse();
    let newest = filed[0];
    // The index's migration again (and those after it), now that tickets exist.
    let db = app.db.clone();
    actix_web::web::block(move || {
        let mut conn = db.maintenance_connection().unwrap();
        loop {
            let reverted = match &mut conn {
                AnyConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS).unwrap().to_string(),
                AnyConnection::Postgres(c) => c.revert_last_migration(POSTGRES_MIGRATIONS).unwrap().to_string(),
            };
            if reverted == "20261201000015" {
                break; // ticket_search
            }
        }
        griddesk::db::run_migrations(&mut conn).unwrap();
        let marked: i64 = griddesk::db::queries::get_setting(&mut conn, "ticket_search_backfill_below")
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(marked, newest + 1);
    })
    .await
    .unwrap();
    assert!(search(&app, &admin, "漏水").await.is_empty(), "not indexed yet");

    let restarted = app.replica().await;
    assert_eq!(search(&restarted, &admin, "漏水").await, filed);
    assert_eq!(
        search(&restarted, &admin, "李娜").await,
        filed,
        "with the reporter's name"
    );
    assert_eq!(search(&app, &admin, "第3次").await, [filed[1]]);
    let db = app.db.clone();
    let left = actix_web::web::block(move || {
        let mut conn = db.conn().unwrap();
        griddesk::db::queries::get_setting(&mut conn, "ticket_search_backfill_below").unwrap()
    })
    .await
    .unwrap();
    assert_eq!(left, None, "the walk is done");
}

/// PostgreSQL's twins of existing tokens (migration 000026, in SQL) are
/// the ones the code gives a ticket it files: the migration undone and
/// done again over tickets the code indexed gives back the same tokens,
/// and searches the same answers (on SQLite the migration does nothing,
/// and the answers stay).
#[actix_web::test]
async fn the_twins_migration_gives_the_tokens_the_code_gives() {
    use diesel::RunQueryDsl;
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let staff = app.token("jm.committee").await;
    let r2 = app.user_id(&admin, "resident02").await;
    // Single ideographs, single ASCII and other letters and digits, words,
    // a room, a name.
    for (title, description) in [
        ("漏水", "楼道漏水，3号楼1-602室。"),
        ("Café é Ω ①", "Wi-Fi b3 x 7 漏"),
        ("噪音", "李娜家楼上。"),
    ] {
        file_for(&app, &staff, r2, json!({"title": title, "description": description})).await;
    }
    let queries = ["漏水", "漏", "1-60", "602", "é", "Ω", "caf", "b3", "x", "李娜", "zzqx"];
    let mut before = Vec::new();
    for q in queries {
        before.push(search(&app, &admin, q).await);
    }
    assert!(before.iter().filter(|ids| !ids.is_empty()).count() >= 9, "{before:?}");
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Tokens {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        ticket_id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        tokens: String,
    }
    let db = app.db.clone();
    actix_web::web::block(move || {
        let mut conn = db.maintenance_connection().unwrap();
        let read = |conn: &mut AnyConnection| match conn {
            AnyConnection::Postgres(c) => {
                diesel::sql_query("SELECT ticket_id, tokens::text AS tokens FROM ticket_search ORDER BY ticket_id")
                    .load::<Tokens>(c)
                    .unwrap()
            }
            AnyConnection::Sqlite(_) => Vec::new(),
        };
        let written = read(&mut conn);
        loop {
            let reverted = match &mut conn {
                AnyConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS).unwrap().to_string(),
                AnyConnection::Postgres(c) => c.revert_last_migration(POSTGRES_MIGRATIONS).unwrap().to_string(),
            };
            if reverted == "20261208000026" {
                break; // the twins
            }
        }
        if let AnyConnection::Postgres(_) = conn {
            let undone = read(&mut conn);
            assert_eq!(undone.len(), written.len());
            assert!(undone.iter().all(|row| !row.tokens.contains("'%")), "twins left");
            assert!(written.iter().any(|row| row.tokens.contains("'%")), "no twins written");
        }
        griddesk::db::run_migrations(&mut conn).unwrap();
        assert_eq!(read(&mut conn), written);
    })
    .await
    .unwrap();
    for (q, ids) in queries.iter().zip(&before) {
        assert_eq!(&search(&app, &admin, q).await, ids, "{q}");
    }
}

/// A search inside a caller's transaction (an export's) leaves that
/// transaction's settings as they were: PostgreSQL's probes turn
/// sequential and index scans and JIT off for their own statements only.
#[actix_web::test]
async fn a_search_inside_a_transaction_leaves_its_settings() {
    use diesel::Connection;
    use griddesk::db::tickets::{TextFilter, TicketFilter, list_tickets};
    use griddesk::policy::tickets::{ReporterSight, TicketScope};
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Settings {
        #[diesel(sql_type = diesel::sql_types::Text)]
        seqscan: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        indexscan: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        jit: String,
    }
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let staff = app.token("jm.committee").await;
    let r2 = app.user_id(&admin, "resident02").await;
    file_for(&app, &staff, r2, json!({"title": "楼道漏水", "description": "楼上。"})).await;
    let db = app.db.clone();
    actix_web::web::block(move || {
        let mut conn = db.maintenance_connection().unwrap();
        let settings = |conn: &mut AnyConnection| match conn {
            AnyConnection::Postgres(c) => Some(
                diesel::RunQueryDsl::get_result::<Settings>(
                    diesel::sql_query(
                        "SELECT current_setting('enable_seqscan') AS seqscan, \
                         current_setting('enable_indexscan') AS indexscan, current_setting('jit') AS jit",
                    ),
                    c,
                )
                .unwrap(),
            ),
            AnyConnection::Sqlite(_) => None,
        };
        conn.transaction(|conn| {
            let before = settings(conn);
            for q in ["漏水", "漏"] {
                let filter = TicketFilter {
                    q: Some(TextFilter {
                        search: griddesk::domain::search::Search::parse(q),
                        caller_id: 0,
                        sight: ReporterSight::Everywhere,
                    }),
                    limit: 26,
                    ..TicketFilter::default()
                };
                let rows = list_tickets(conn, &TicketScope::All, &filter)?;
                assert!(!rows.is_empty(), "{q}");
                assert!(rows.iter().all(|t| t.title.contains(q) || t.description.contains(q)));
                assert_eq!(settings(conn), before, "{q}");
            }
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    })
    .await
    .unwrap();
}

/// Every ticket `token` may list, newest first, as the list shows them.
async fn everything(app: &TestApp, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tickets?limit=100&cursor={c}"),
            None => "/api/v1/tickets?limit=100".to_owned(),
        };
        let page = app.get(&path, Some(token)).await.expect(200).clone();
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
}

/// The substring test as a caller sees a ticket: its texts, and the
/// reporter's name and room where the list shows the reporter.
fn holds(ticket: &Value, q: &str) -> bool {
    let mut fields = vec![&ticket["title"], &ticket["description"], &ticket["location"]];
    fields.extend([&ticket["reporter"]["display_name"], &ticket["reporter"]["room"]]);
    q.split_whitespace().all(|part| {
        let part = part.to_lowercase();
        fields
            .iter()
            .filter_map(|f| f.as_str())
            .any(|f| f.to_lowercase().contains(&part))
    })
}

/// Many tickets: a search with more hits than PostgreSQL reads from its
/// index at once walks the tickets instead, and every caller gets the same
/// answers either way, equal to the substring test over what they may list.
#[actix_web::test]
async fn common_and_rare_words_answer_every_caller_as_the_substring_test() {
    let app = TestApp::with_demo().await;
    let db = app.db.clone();
    let now = app.clock.now_naive();
    actix_web::web::block(move || griddesk::generate::fill(&db, 2_500, now, 8))
        .await
        .unwrap()
        .unwrap();
    // 地点 is in every generated description: more than the candidates
    // PostgreSQL lists; the others far fewer.
    let queries = [
        "地点",
        "地点 漏水",
        "漏水",
        "楼道",
        "井盖",
        "王芳",
        "1-101",
        "请尽快处理",
        "车库 噪音",
        "李娜 充电",
    ];
    for caller in ["jm.admin", "jm.branch1", "jm.b1.bldg1", "jm.b1.bldg1.h1", "resident01"] {
        let token = app.token(caller).await;
        let all = everything(&app, &token).await;
        for q in queries {
            let expected: Vec<i64> = all
                .iter()
                .filter(|t| holds(t, q))
                .take(100)
                .map(|t| t["id"].as_i64().unwrap())
                .collect();
            assert_eq!(search(&app, &token, q).await, expected, "{caller}: {q:?}");
        }
        // Filed before the newest 2,100 (so no hit among the newest ids,
        // where PostgreSQL walks first): the hits below are read by id, or
        // walked when there are many.
        let Some(bound) = all.get(2_100).and_then(|t| t["created_at"].as_str()) else {
            continue;
        };
        for q in queries {
            let expected: Vec<i64> = all
                .iter()
                .filter(|t| t["created_at"].as_str().unwrap() < bound && holds(t, q))
                .take(100)
                .map(|t| t["id"].as_i64().unwrap())
                .collect();
            let path = format!("/api/v1/tickets?limit=100&q={}&created_to={}", encode(q), encode(bound));
            let got = ids(app.get(&path, Some(&token)).await.expect(200));
            assert_eq!(got, expected, "{caller}: {q:?} before {bound}");
        }
    }
}

/// The ids of every page of `path` (a list with a `limit`), following
/// `next_cursor`, at most `pages` pages.
async fn paged(app: &TestApp, token: &str, path: &str, pages: usize) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..pages {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let page = app.get(&url, Some(token)).await.expect(200).clone();
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    seen
}

/// Ticket ids far apart: PostgreSQL asks its index bucket by bucket,
/// newest first (one, two, then eight buckets of `search::BUCKET` ids
/// through the tokens' twins; then the rest at once), and every page,
/// with the cursor across buckets, equals the substring test: a word in
/// every ticket
/// (walked), common and rare words, a name, a room, an unfinished room, a
/// query of two parts, one ideograph, a miss; for the admin and for a
/// building's leader (hits few).
#[actix_web::test]
async fn search_pages_across_id_buckets_equal_the_substring_test() {
    use diesel::RunQueryDsl;
    let app = TestApp::with_demo().await;
    let bucket = griddesk::db::tickets::search::BUCKET;
    let admin = app.token("jm.admin").await;
    let staff = app.token("jm.committee").await;
    let r1 = app.user_id(&admin, "resident01").await;
    // Four groups of generated tickets: ids from 1, and from 40, 55.7 and
    // 60.7 buckets up (the generator goes on from the largest id, so a
    // ticket filed with the id sequence moved first opens each group; the
    // newest two cross into the next bucket). The first two probes find
    // the last group, the third the one from 55.7; the older two are below
    // every probe.
    let groups = [
        (1, Some(40 * bucket + 17)),
        (2, Some(55 * bucket + 705)),
        (3, Some(60 * bucket + 700)),
        (4, None),
    ];
    for (group, next_id) in groups {
        let db = app.db.clone();
        let now = app.clock.now_naive();
        actix_web::web::block(move || griddesk::generate::fill(&db, 600 * group, now, 10 + group))
            .await
            .unwrap()
            .unwrap();
        let Some(next_id) = next_id else { continue };
        let mut conn = app.db.maintenance_connection().unwrap();
        let moved = match &conn {
            AnyConnection::Sqlite(_) => {
                format!(
                    "UPDATE sqlite_sequence SET seq = {} WHERE name = 'tickets'",
                    next_id - 1
                )
            }
            AnyConnection::Postgres(_) => {
                format!(
                    "SELECT setval(pg_get_serial_sequence('tickets', 'id'), {})",
                    next_id - 1
                )
            }
        };
        diesel::sql_query(moved).execute(&mut conn).unwrap();
        let id = file_for(
            &app,
            &staff,
            r1,
            json!({"title": "漏水", "description": "地点：井盖旁。"}),
        )
        .await;
        assert_eq!(id, next_id);
    }
    let queries = [
        "地点",
        "漏水",
        "井盖",
        "王芳",
        "1-101",
        "1-10",
        "漏水 井盖",
        "漏",
        "请尽快处理",
        "zzqx",
    ];
    for caller in ["jm.admin", "jm.b1.bldg1"] {
        let token = app.token(caller).await;
        let all = everything(&app, &token).await;
        assert!(all.len() > 100, "{caller} lists {}", all.len());
        for q in queries {
            let expected: Vec<i64> = all
                .iter()
                .filter(|t| holds(t, q))
                .map(|t| t["id"].as_i64().unwrap())
                .collect();
            let path = format!("/api/v1/tickets?limit=40&q={}", encode(q));
            let seen = paged(&app, &token, &path, expected.len() / 40 + 2).await;
            let first_difference = seen.iter().zip(&expected).position(|(a, b)| a != b);
            assert!(
                seen == expected,
                "{caller}: {q:?}: {} found, {} expected, first difference at {first_difference:?}",
                seen.len(),
                expected.len()
            );
        }
        // A filter the index does not hold leaves most hits out: the rounds
        // ask for more each time, and the pages still equal the test.
        for q in ["地点", "漏水"] {
            let expected: Vec<i64> = all
                .iter()
                .filter(|t| t["status"] == "assigned" && holds(t, q))
                .map(|t| t["id"].as_i64().unwrap())
                .collect();
            let path = format!("/api/v1/tickets?limit=10&status=assigned&q={}", encode(q));
            let seen = paged(&app, &token, &path, expected.len() / 10 + 2).await;
            assert!(!expected.is_empty(), "{caller}: no assigned ticket holds {q:?}");
            assert!(
                seen == expected,
                "{caller}: {q:?}, assigned: {} found, {} expected",
                seen.len(),
                expected.len()
            );
        }
        let far = all
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .filter(|id| *id > 60 * bucket)
            .count();
        assert!(far > 0, "{caller} lists no ticket of the newest group");
    }
}

/// A ticket's scope tokens follow its visits and parties in the same
/// transaction: staff it is dispatched to and residents made party to a
/// dispute find it by search at once.
#[actix_web::test]
async fn dispatched_tickets_and_new_parties_are_found_at_once() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let body = json!({"category": "property_management", "title": "物业不作为", "description": "门禁坏了两周。"});
    let id = app.post("/api/v1/complaints", Some(&resident), body).await.expect(201)["id"]
        .as_i64()
        .unwrap();
    let leader = app.token("jm.b1.bldg1").await;
    assert!(search(&app, &leader, "门禁").await.is_empty(), "still at the branch");
    let building = app.unit_id(&admin, "JM-B1-01").await;
    app.post(
        &format!("/api/v1/tickets/{id}/dispatch"),
        Some(&app.token("jm.branch1").await),
        json!({"unit_id": building}),
    )
    .await
    .expect(200);
    assert_eq!(search(&app, &leader, "门禁").await, [id]);

    let neighbour = app.user_id(&admin, "resident02").await;
    let body = json!({"category": "neighbour_dispute", "title": "楼上漏水纠纷", "description": "卫生间漏水到楼下。",
        "respondents": [{"user_id": neighbour}]});
    let dispute = app.post("/api/v1/disputes", Some(&resident), body).await.expect(201)["id"]
        .as_i64()
        .unwrap();
    assert_eq!(search(&app, &app.token("resident02").await, "漏水").await, [dispute]);
    let third = app.token("resident03").await;
    assert!(search(&app, &third, "漏水").await.is_empty());
    app.post(&format!("/api/v1/tickets/{dispute}/accept"), Some(&leader), json!({}))
        .await
        .expect(200);
    let resident03 = app.user_id(&admin, "resident03").await;
    app.post(
        &format!("/api/v1/disputes/{dispute}/parties"),
        Some(&leader),
        json!({"role": "respondent", "user_id": resident03}),
    )
    .await
    .expect(201);
    assert_eq!(search(&app, &third, "漏水").await, [dispute]);
}
