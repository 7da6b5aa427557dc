//! Ticket visibility is decided twice: in Rust (`policy::tickets::can_read`,
//! asked for one ticket) and in SQL (`db::tickets::scope_sql`, the list
//! query), and "overdue" likewise (`domain::sla::is_overdue` on a ticket, the
//! `overdue` filter in SQL), and whose anonymous reporter a caller sees
//! (`policy::tickets::sees_reporter` on a ticket, `reporter_sight` in the
//! `reporter_id` filter) likewise. These tests hold each pair to the same
//! answer for every caller over the demo's sample tickets, so neither can
//! drift.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::TestApp;

/// Every ticket id in the list for `query`, following the cursor.
async fn listed(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    // Bounded: the demo holds a few dozen tickets.
    for _ in 0..50 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tickets?limit=7&{query}&cursor={c}"),
            None => format!("/api/v1/tickets?limit=7&{query}"),
        };
        let page = app.get(&path, Some(token)).await.expect(200).clone();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
    panic!("the list did not end");
}

fn ids(items: &[Value]) -> BTreeSet<i64> {
    items.iter().map(|t| t["id"].as_i64().unwrap()).collect()
}

#[actix_web::test]
async fn the_list_shows_exactly_the_tickets_each_caller_may_open() {
    let app = TestApp::with_sample_tickets().await;
    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    let every = ids(&listed(&app, &root, "").await);
    assert!(every.len() >= 10, "the demo files sample tickets: {every:?}");
    let highest = *every.iter().max().unwrap();

    let mut callers = vec![
        ("root".to_owned(), root.clone()),
        ("hq.admin".to_owned(), other.admin.clone()),
    ];
    for name in [
        "jm.admin",
        "jm.committee",
        "jm.branch1",
        "jm.branch3",
        "jm.b1.bldg1",
        "jm.b1.bldg2",
        "jm.b2.bldg1",
        "jm.b3.bldg1",
        "jm.b3.bldg2",
        "jm.b1.bldg1.h1",
        "jm.b1.bldg1.h2",
        "resident01",
        "resident04",
        "resident06",
        "resident07",
        "resident16",
        "resident17",
    ] {
        callers.push((name.to_owned(), app.token(name).await));
    }
    let mut someone_sees_part = false;
    let mut someone_sees_late = false;
    let mut someone_is_kept_from_a_reporter = false;
    let reporters: BTreeSet<i64> = listed(&app, &root, "")
        .await
        .iter()
        .map(|t| t["reporter"]["id"].as_i64().unwrap())
        .collect();
    for (name, token) in &callers {
        let list = listed(&app, token, "").await;
        let mut opened = BTreeSet::new();
        // One past the highest id too: a ticket nobody has is 404 for all.
        for id in 1..=highest + 1 {
            let res = app.get(&format!("/api/v1/tickets/{id}"), Some(token)).await;
            match res.status.as_u16() {
                200 => {
                    opened.insert(id);
                }
                404 => {}
                other => panic!("{name}: GET /tickets/{id} answered {other}"),
            }
        }
        assert_eq!(ids(&list), opened, "{name}: listed vs readable one by one");
        someone_sees_part |= !opened.is_empty() && opened.len() < every.len();

        // The overdue filter agrees with each ticket's own `overdue`.
        let late = ids(&listed(&app, token, "overdue=true").await);
        let on_time = ids(&listed(&app, token, "overdue=false").await);
        let flagged: BTreeSet<i64> = list
            .iter()
            .filter(|t| t["overdue"] == true)
            .map(|t| t["id"].as_i64().unwrap())
            .collect();
        assert_eq!(late, flagged, "{name}: overdue=true vs the overdue field");
        someone_sees_late |= !late.is_empty();

        // `reporter_id=N` finds exactly the tickets whose `reporter` is N.
        for reporter in &reporters {
            let filtered = ids(&listed(&app, token, &format!("reporter_id={reporter}")).await);
            let shown: BTreeSet<i64> = list
                .iter()
                .filter(|t| t["reporter"]["id"] == *reporter)
                .map(|t| t["id"].as_i64().unwrap())
                .collect();
            assert_eq!(filtered, shown, "{name}: reporter_id={reporter} vs the reporter field");
        }
        someone_is_kept_from_a_reporter |= list.iter().any(|t| t["reporter"].is_null());
        assert_eq!(
            on_time,
            ids(&list).difference(&flagged).copied().collect(),
            "{name}: overdue=false is the rest"
        );
    }
    assert!(someone_sees_part, "the callers must see different parts of the demo");
    assert!(someone_sees_late, "the demo holds overdue tickets");
    assert!(
        someone_is_kept_from_a_reporter,
        "the demo holds an anonymous ticket that some callers read without its reporter"
    );
    assert!(
        ids(&listed(&app, &other.admin, "").await).is_empty(),
        "another community's admin sees none of Junmen's tickets"
    );
}

/// Ids in the order listed, `limit` a page, following the cursor.
async fn ids_in_order(app: &TestApp, token: &str, limit: usize, query: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    // Bounded: the demo holds a few dozen tickets.
    for _ in 0..100 {
        let mut path = format!("/api/v1/tickets?limit={limit}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, Some(token)).await.expect(200).clone();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        ids.extend(items.iter().map(|t| t["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
    panic!("the list did not end");
}

/// On PostgreSQL an unfiltered list is a kept statement, which PostgreSQL
/// plans once for all values after five uses (`db::tickets::front_page`).
/// Whatever plan it settles on, each community's admins, committee and
/// residents, an empty community's included, and the super-admin page
/// through exactly
/// what the same list with a filter that leaves nothing out gives (that
/// one is planned per use), newest first, in pages of the sizes its
/// statements are written for and of sizes between them.
#[actix_web::test]
async fn unfiltered_pages_are_the_filtered_pages_in_every_community() {
    let app = TestApp::with_demo().await;
    let root = app.superadmin().await;
    let other = app.second_community(&root).await;
    // Listed empty, page after page, before it holds a ticket.
    for limit in [1, 2, 3, 1, 2, 3, 25] {
        assert!(ids_in_order(&app, &other.admin, limit, "").await.is_empty());
    }
    let jm_resident = app.token("resident01").await;
    let hq_resident = app.token("hq.resident").await;
    let mut hq = Vec::new();
    for i in 0..7 {
        crate::tickets::file(&app, &jm_resident, "noise", &format!("噪音 {i}")).await;
        if i % 2 == 0 {
            let ticket = crate::tickets::file(&app, &hq_resident, "noise", &format!("湖前噪音 {i}")).await;
            hq.insert(0, ticket["id"].as_i64().unwrap());
        }
    }
    let everything = "&created_from=2000-01-01";
    let jm_admin = app.token("jm.admin").await;
    let jm_committee = app.token("jm.committee").await;
    let mut all_lists = Vec::new();
    for token in [
        &jm_admin,
        &jm_committee,
        &other.admin,
        &root,
        &jm_resident,
        &hq_resident,
    ] {
        let expected = ids_in_order(&app, token, 100, everything).await;
        assert!(!expected.is_empty());
        assert!(expected.windows(2).all(|w| w[0] > w[1]), "newest first");
        for limit in [1, 2, 3, 4, 7, 10, 25, 100] {
            assert_eq!(ids_in_order(&app, token, limit, "").await, expected, "limit={limit}");
        }
        all_lists.push(expected);
    }
    assert_eq!(all_lists[2], hq, "HQ's admin: HQ's tickets only");
    assert!(
        all_lists[0].iter().all(|id| !hq.contains(id)),
        "JM's admin: none of HQ's"
    );
    assert_eq!(all_lists[0], all_lists[1], "JM's committee: JM's whole");
    let mut both: Vec<i64> = all_lists[0].iter().chain(&hq).copied().collect();
    both.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(all_lists[3], both, "the super-admin: both");
    assert_eq!(all_lists[5], hq, "HQ's resident filed each of HQ's");
    assert!(
        all_lists[4].iter().all(|id| all_lists[0].contains(id)),
        "a JM resident's: JM's"
    );
}
