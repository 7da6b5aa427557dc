//! The ticket export (`GET /api/v1/tickets/export`): every ticket the JSON
//! list gives the caller, as the JSON shows it, in one streamed CSV file
//! that Excel opens (byte-order mark, CRLF) and that runs no formula.

use std::collections::{BTreeSet, HashMap};

use awc::http::Method;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::support::{Res, TestApp};
use crate::tickets::file;

/// The header row, as clients rely on it.
const COLUMNS: &str = "id,kind,kind_zh,status,status_zh,category_code,category_name_zh,title,description,\
    location,latitude,longitude,anonymous,priority,reporter_id,reporter_name,reporter_phone,reporter_room,\
    applicants,respondents,current_unit_id,current_unit_name,current_unit_level,created_at,accept_due_at,\
    resolve_due_at,overdue,accepted_at,resolved_at,closed_at,resolution,rating,feedback,escalation_count,\
    bounce_count,reopen_count,merged_into_id,referred_to,outcome,updated_at";

const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;

type Row = HashMap<String, String>;

async fn export(app: &TestApp, token: &str, query: &str) -> Res {
    app.raw(
        Method::GET,
        &format!("/api/v1/tickets/export?{query}"),
        Some(token),
        &[("Accept", "text/csv")],
        None,
    )
    .await
}

/// The lines of an export, after checking the form of the file: the
/// headers of the answer, a byte-order mark, the header row, CRLF after
/// every line (line breaks inside a quoted cell are the cell's).
#[track_caller]
fn rows(res: &Res) -> Vec<Row> {
    assert_eq!(res.status.as_u16(), 200, "{}", res.text);
    assert_eq!(res.header("content-type"), Some("text/csv; charset=utf-8"));
    let disposition = res.header("content-disposition").unwrap();
    let name = disposition
        .strip_prefix("attachment; filename=\"tickets-")
        .and_then(|rest| rest.strip_suffix(".csv\""))
        .unwrap_or_else(|| panic!("{disposition}"));
    assert!(
        name.len() == 8 && name.bytes().all(|b| b.is_ascii_digit()),
        "{disposition}"
    );
    let text = res.text.strip_prefix('\u{feff}').expect("a byte-order mark first");
    assert!(text.starts_with(&format!("{COLUMNS}\r\n")), "{text}");
    let (mut quoted, mut previous) = (false, '\0');
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        assert!(quoted || c != '\n' || previous == '\r', "a bare LF in {text:?}");
        assert!(quoted || previous != '\r' || c == '\n', "a bare CR in {text:?}");
        previous = c;
    }
    assert!(text.ends_with("\r\n"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    reader
        .records()
        .map(|line| {
            header
                .iter()
                .cloned()
                .zip(line.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn ids(rows: &[Row]) -> Vec<i64> {
    rows.iter().map(|r| r["id"].parse().unwrap()).collect()
}

/// Every ticket the JSON list gives `token` for `query`, all pages walked.
async fn listed(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(
                &format!("/api/v1/tickets?{query}&limit=100&cursor={cursor}"),
                Some(token),
            )
            .await
            .expect(200)
            .clone();
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return all,
        }
    }
}

/// A cell of text someone typed, as the file must show it.
fn neutralised(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn local(time: &str, tz: Tz) -> String {
    DateTime::parse_from_rfc3339(time)
        .unwrap()
        .with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What the line of ticket `t` (its JSON for the same caller) must hold.
fn expected(t: &Value, tz: Tz) -> Vec<(&'static str, String)> {
    let plain = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = |v: &Value| v.as_str().map(neutralised).unwrap_or_default();
    let time = |v: &Value| v.as_str().map(|s| local(s, tz)).unwrap_or_default();
    let parties = |role: &str| {
        let names: Vec<&str> = t["parties"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["role"] == role)
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        neutralised(&names.join("、"))
    };
    let status_zh = match t["status"].as_str().unwrap() {
        "assigned" => "待签收",
        "accepted" => "办理中",
        "resolved" => "已办结",
        "closed" => "已关闭",
        "withdrawn" => "已撤回",
        "rejected" => "不予受理",
        "referred" => "已转出",
        "merged" => "已合并",
        other => panic!("{other}"),
    };
    let reporter = &t["reporter"];
    vec![
        ("id", plain(&t["id"])),
        ("kind", plain(&t["kind"])),
        (
            "kind_zh",
            if t["kind"] == "complaint" {
                "投诉"
            } else {
                "矛盾纠纷"
            }
            .to_owned(),
        ),
        ("status", plain(&t["status"])),
        ("status_zh", status_zh.to_owned()),
        ("category_code", text(&t["category"]["code"])),
        ("category_name_zh", text(&t["category"]["name_zh"])),
        ("title", text(&t["title"])),
        ("description", text(&t["description"])),
        ("location", text(&t["location"])),
        ("latitude", plain(&t["latitude"])),
        ("longitude", plain(&t["longitude"])),
        ("anonymous", plain(&t["anonymous"])),
        ("priority", plain(&t["priority"])),
        ("reporter_id", plain(&reporter["id"])),
        ("reporter_name", text(&reporter["display_name"])),
        ("reporter_phone", text(&reporter["phone"])),
        ("reporter_room", text(&reporter["room"])),
        ("applicants", parties("applicant")),
        ("respondents", parties("respondent")),
        ("current_unit_id", plain(&t["current_unit"]["id"])),
        ("current_unit_name", text(&t["current_unit"]["name"])),
        ("current_unit_level", plain(&t["current_unit"]["level"])),
        ("created_at", time(&t["created_at"])),
        ("accept_due_at", time(&t["accept_due_at"])),
        ("resolve_due_at", time(&t["resolve_due_at"])),
        ("overdue", plain(&t["overdue"])),
        ("accepted_at", time(&t["accepted_at"])),
        ("resolved_at", time(&t["resolved_at"])),
        ("closed_at", time(&t["closed_at"])),
        ("resolution", text(&t["resolution"])),
        ("rating", plain(&t["rating"])),
        ("feedback", text(&t["feedback"])),
        ("escalation_count", plain(&t["escalation_count"])),
        ("bounce_count", plain(&t["bounce_count"])),
        ("reopen_count", plain(&t["reopen_count"])),
        ("merged_into_id", plain(&t["merged_into_id"])),
        ("referred_to", text(&t["referred_to"])),
        ("outcome", plain(&t["outcome"])),
        ("updated_at", time(&t["updated_at"])),
    ]
}

/// The export for `query` holds what the JSON list holds for it, line by
/// line, in the same order; answers the lines.
async fn same_as_json(app: &TestApp, token: &str, who: &str, query: &str) -> Vec<Row> {
    let exported = rows(&export(app, token, query).await);
    let listed = listed(app, token, query).await;
    let listed_ids: Vec<i64> = listed.iter().map(|t| t["id"].as_i64().unwrap()).collect();
    assert_eq!(ids(&exported), listed_ids, "{who} ?{query}");
    for (row, t) in exported.iter().zip(&listed) {
        for (column, want) in expected(t, SHANGHAI) {
            assert_eq!(row[column], want, "{who} ?{query}: ticket {} {column}", t["id"]);
        }
    }
    exported
}

/// The local calendar date `days` ago, `2026-11-30`.
fn days_ago(app: &TestApp, days: i64, tz: Tz) -> String {
    (app.clock.now() - chrono::Duration::days(days))
        .with_timezone(&tz)
        .format("%Y-%m-%d")
        .to_string()
}

#[actix_web::test]
async fn the_export_is_the_json_list_in_one_file_for_every_caller_and_filter() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    let resident = app.token("resident01").await;
    let resident_id = app.get("/api/v1/me", Some(&resident)).await.expect(200)["id"].clone();
    // Exactly one page: the page after it is empty, and the file ends.
    let db = app.db.clone();
    let now = app.clock.now_naive();
    actix_web::web::block(move || griddesk::generate::fill(&db, 500, now, 11))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rows(&export(&app, &admin, "").await).len(), 500);

    // Past two page boundaries (500 tickets a page), with tickets filed over
    // HTTP among them: anonymous, a dispute with parties, comments.
    let db = app.db.clone();
    actix_web::web::block(move || griddesk::generate::fill(&db, 1_200, now, 11))
        .await
        .unwrap()
        .unwrap();
    let anonymous = app
        .post(
            "/api/v1/complaints",
            Some(&resident),
            json!({"category": "noise", "title": "匿名反映噪音", "description": "不便透露姓名。", "anonymous": true}),
        )
        .await
        .expect(201)["id"]
        .clone();
    let neighbour = app.token("resident02").await;
    let dispute = app
        .post(
            "/api/v1/disputes",
            Some(&neighbour),
            json!({"category": "neighbour_dispute", "title": "漏水纠纷", "description": "协商未果。",
                "respondents": [{"user_id": resident_id}, {"name": "物业公司张经理"}]}),
        )
        .await
        .expect(201)["id"]
        .clone();
    app.post(
        &format!("/api/v1/tickets/{anonymous}/comments"),
        Some(&resident),
        json!({"body": "请尽快处理。"}),
    )
    .await
    .expect(201);
    let h1 = app.token("jm.b1.bldg1.h1").await;
    app.post(
        &format!("/api/v1/tickets/{anonymous}/comments"),
        Some(&h1),
        json!({"body": "内部：已联系楼上住户。", "internal": true}),
    )
    .await
    .expect(201);

    // All of it, complete and in order (newest first), for the admin.
    let all = same_as_json(&app, &admin, "jm.admin", "").await;
    let total = all.len();
    assert_eq!(total, 1_202);
    let ids_in_order = ids(&all);
    assert!(ids_in_order.windows(2).all(|w| w[0] > w[1]), "newest first, none twice");
    assert_eq!(ids_in_order[0], dispute.as_i64().unwrap());
    let text = export(&app, &admin, "").await.text;
    assert!(!text.contains("已联系楼上住户"), "an internal note reached the file");

    // Each caller: what their JSON list holds.
    for who in [
        "jm.committee",
        "jm.branch1",
        "jm.b1.bldg1",
        "jm.b1.bldg1.h1",
        "resident01",
        "resident02",
    ] {
        let token = app.token(who).await;
        let mine = same_as_json(&app, &token, who, "").await;
        assert!(!mine.is_empty() && mine.len() <= total, "{who}: {}", mine.len());
    }

    // Filters, as the list reads them.
    let since = days_ago(&app, 60, SHANGHAI);
    let branch1 = app.unit_id(&admin, "JM-B1").await;
    for (who, token) in [("jm.admin", &admin), ("jm.branch1", &app.token("jm.branch1").await)] {
        for query in [
            "status=assigned,accepted".to_owned(),
            format!("created_from={since}"),
            format!("created_to={since}&kind=dispute"),
            "overdue=true&category=noise".to_owned(),
            format!("unit_id={branch1}&updated_since={since}"),
            format!("reporter_id={resident_id}"),
            "q=%E5%99%AA%E9%9F%B3".to_owned(),
        ] {
            same_as_json(&app, token, who, &query).await;
        }
    }
    // Several statuses: any of them, as many as each alone.
    let open = rows(&export(&app, &admin, "status=assigned,accepted").await);
    assert!(
        open.iter()
            .all(|r| ["assigned", "accepted"].contains(&r["status"].as_str()))
    );
    let assigned = rows(&export(&app, &admin, "status=assigned").await).len();
    let accepted = rows(&export(&app, &admin, "status=accepted").await).len();
    assert!(assigned > 0 && accepted > 0);
    assert_eq!(open.len(), assigned + accepted);
    // A date alone is that whole local day on: the same as its first
    // moment in Shanghai, and nothing filed before it.
    let recent = rows(&export(&app, &admin, &format!("created_from={since}")).await);
    let midnight = format!("{since}T00:00:00%2B08:00");
    let same = rows(&export(&app, &admin, &format!("created_from={midnight}")).await);
    assert_eq!(ids(&recent), ids(&same));
    assert!(!recent.is_empty() && recent.len() < total);
    assert!(recent.iter().all(|r| r["created_at"][..10] >= *since.as_str()));
    let before = rows(&export(&app, &admin, &format!("created_to={since}")).await);
    assert!(before.iter().all(|r| r["created_at"][..10] <= *since.as_str()));
    // Together all of them; in both exactly those filed on that local day.
    let recent_ids: BTreeSet<i64> = ids(&recent).into_iter().collect();
    let before_ids: BTreeSet<i64> = ids(&before).into_iter().collect();
    assert_eq!(recent_ids.union(&before_ids).count(), total);
    let that_day: BTreeSet<i64> = ids(&all
        .iter()
        .filter(|r| r["created_at"][..10] == *since)
        .cloned()
        .collect::<Vec<_>>())
    .into_iter()
    .collect();
    assert_eq!(
        recent_ids.intersection(&before_ids).copied().collect::<BTreeSet<_>>(),
        that_day
    );
}

/// Moves the app's clock forward to the next `hour`:00 in `tz`; answers it.
fn to_next_local_hour(app: &TestApp, hour: u32, tz: Tz) -> DateTime<Tz> {
    let now = app.clock.now().with_timezone(&tz);
    let mut day = now.date_naive();
    loop {
        let at = day
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_local_timezone(tz)
            .earliest()
            .unwrap();
        if at > now {
            app.clock.advance(at.with_timezone(&Utc) - app.clock.now());
            return at;
        }
        day = day.succ_opt().unwrap();
    }
}

#[actix_web::test]
async fn a_date_alone_is_a_whole_day_in_shanghai() {
    let app = TestApp::with_demo().await;
    // 03:00 in Shanghai is 19:00 UTC the day before: a date read as UTC
    // would put the ticket on the wrong day.
    let at = to_next_local_hour(&app, 3, SHANGHAI);
    let resident = app.token("resident01").await;
    let admin = app.token("jm.admin").await;
    let id = file(&app, &resident, "noise", "凌晨噪音").await["id"].as_i64().unwrap();
    let day = at.date_naive();
    let found = |query: String| {
        let (app, admin) = (&app, &admin);
        async move { ids(&rows(&export(app, admin, &query).await)) == [id] }
    };
    assert!(found(format!("created_from={day}")).await);
    assert!(found(format!("created_to={day}")).await);
    assert!(!found(format!("created_to={}", day.pred_opt().unwrap())).await);
    assert!(!found(format!("created_from={}", day.succ_opt().unwrap())).await);
}

#[actix_web::test]
async fn anonymous_reporters_are_hidden_from_household_and_building_staff_as_in_json() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let me = app.get("/api/v1/me", Some(&resident)).await.expect(200).clone();
    let (name, phone) = (me["display_name"].as_str().unwrap(), me["phone"].as_str().unwrap());
    let anonymous = app
        .post(
            "/api/v1/complaints",
            Some(&resident),
            json!({"category": "noise", "title": "匿名反映噪音", "description": "不便透露姓名。", "anonymous": true}),
        )
        .await
        .expect(201)["id"]
        .to_string();
    let named = file(&app, &resident, "noise", "楼上装修噪音").await["id"].to_string();
    let line = |rows: &[Row], id: &str| rows.iter().find(|r| r["id"] == id).cloned();
    let masked = format!("{}****{}", &phone[..3], &phone[phone.len() - 4..]);

    // Household and building staff: the anonymous ticket's reporter cells
    // are empty, and `reporter_id` does not find it; the other one shows a
    // masked phone.
    for who in ["jm.b1.bldg1.h1", "jm.b1.bldg1"] {
        let token = app.token(who).await;
        let all = same_as_json(&app, &token, who, "").await;
        let hidden = line(&all, &anonymous).unwrap();
        assert_eq!(hidden["anonymous"], "true");
        for column in ["reporter_id", "reporter_name", "reporter_phone", "reporter_room"] {
            assert_eq!(hidden[column], "", "{who}: {column}");
        }
        let shown = line(&all, &named).unwrap();
        assert_eq!(
            (shown["reporter_name"].as_str(), shown["reporter_phone"].as_str()),
            (name, masked.as_str())
        );
        let by_reporter = same_as_json(&app, &token, who, &format!("reporter_id={}", me["id"])).await;
        assert!(line(&by_reporter, &anonymous).is_none(), "{who}");
        assert!(line(&by_reporter, &named).is_some(), "{who}");
    }
    // Branch staff see the reporter (phone masked), the admin in full, the reporter themselves too.
    for (who, shown_phone) in [
        ("jm.branch1", masked.as_str()),
        ("jm.admin", phone),
        ("resident01", phone),
    ] {
        let token = app.token(who).await;
        let all = same_as_json(&app, &token, who, "").await;
        let shown = line(&all, &anonymous).unwrap();
        assert_eq!(shown["reporter_name"], name, "{who}");
        assert_eq!(shown["reporter_phone"], shown_phone, "{who}");
        assert_eq!(shown["reporter_room"], "1-101", "{who}");
        let by_reporter = rows(&export(&app, &token, &format!("reporter_id={}", me["id"])).await);
        assert!(line(&by_reporter, &anonymous).is_some(), "{who}");
    }
}

#[actix_web::test]
async fn the_file_opens_in_excel_and_runs_no_formula() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let admin = app.token("jm.admin").await;
    app.patch(
        "/api/v1/me",
        Some(&resident),
        json!({"display_name": "=cmd|' /C calc'!A0"}),
    )
    .await
    .expect(200);
    let household = app.unit_id(&admin, "JM-B1-01-H1").await;
    app.patch(
        &format!("/api/v1/units/{household}"),
        Some(&admin),
        json!({"name": "+86 党员中心户"}),
    )
    .await
    .expect(200);
    let ticket = app
        .post(
            "/api/v1/complaints",
            Some(&resident),
            json!({"category": "noise", "title": "=HYPERLINK(\"http://evil.example\",\"点我\")",
                "description": "-1+2\r\n第二行，\"引号\"", "location": "@SUM(A1)"}),
        )
        .await
        .expect(201)
        .clone();
    let before = app.clock.now().with_timezone(&SHANGHAI).format("%Y%m%d").to_string();
    let res = export(&app, &admin, "").await;
    let after = app.clock.now().with_timezone(&SHANGHAI).format("%Y%m%d").to_string();
    // Named for the day in Shanghai.
    let disposition = res.header("content-disposition").unwrap();
    assert!(
        [before, after]
            .iter()
            .any(|day| disposition == format!("attachment; filename=\"tickets-{day}.csv\"")),
        "{disposition}"
    );
    // Quoted by the rules of RFC 4180, a `'` before what would start a formula.
    assert!(
        res.text.contains(
            ",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"点我\"\")\",\"'-1+2\r\n第二行，\"\"引号\"\"\",'@SUM(A1),"
        ),
        "{}",
        res.text
    );
    let all = rows(&res);
    assert_eq!(all.len(), 1);
    let line = &all[0];
    assert_eq!(line["title"], "'=HYPERLINK(\"http://evil.example\",\"点我\")");
    assert_eq!(line["description"], "'-1+2\r\n第二行，\"引号\"");
    assert_eq!(line["location"], "'@SUM(A1)");
    assert_eq!(line["reporter_name"], "'=cmd|' /C calc'!A0");
    assert_eq!(line["current_unit_name"], "'+86 党员中心户");
    // Local times with China's offset; the values the server makes stay as they are.
    assert_eq!(
        line["created_at"],
        local(ticket["created_at"].as_str().unwrap(), SHANGHAI)
    );
    assert!(line["created_at"].ends_with("+08:00"), "{}", line["created_at"]);
    assert_eq!(
        (
            line["status"].as_str(),
            line["status_zh"].as_str(),
            line["kind_zh"].as_str()
        ),
        ("assigned", "待签收", "投诉")
    );
    assert_eq!(line["category_name_zh"], "噪音扰民");
    same_as_json(&app, &admin, "jm.admin", "").await;
}

#[actix_web::test]
async fn times_are_local_in_the_zone_the_deployment_sets() {
    const NEW_YORK: Tz = chrono_tz::America::New_York;
    let app = TestApp::spawn_with(|state| state.time_zone = NEW_YORK).await;
    app.load_demo().await;
    // 21:00 in New York is 01:00 or 02:00 UTC the next day.
    let at = to_next_local_hour(&app, 21, NEW_YORK);
    let resident = app.token("resident01").await;
    let admin = app.token("jm.admin").await;
    let ticket = file(&app, &resident, "noise", "楼上装修噪音").await;
    let res = export(&app, &admin, "").await;
    let line = &rows(&res)[0];
    let offset = at.format("%:z").to_string();
    assert!(offset == "-05:00" || offset == "-04:00", "{offset}");
    assert_eq!(
        line["created_at"],
        local(ticket["created_at"].as_str().unwrap(), NEW_YORK)
    );
    assert!(
        line["created_at"].starts_with(&at.format("%Y-%m-%dT21:00").to_string()),
        "{}",
        line["created_at"]
    );
    assert!(line["created_at"].ends_with(&offset), "{}", line["created_at"]);
    for column in ["accept_due_at", "resolve_due_at", "updated_at"] {
        assert_eq!(
            line[column],
            local(ticket[column].as_str().unwrap(), NEW_YORK),
            "{column}"
        );
    }
    // The file is named for the day in New York (in UTC it is the next one).
    assert_eq!(
        res.header("content-disposition"),
        Some(format!("attachment; filename=\"tickets-{}.csv\"", at.format("%Y%m%d")).as_str())
    );
    // A date alone is a New York day.
    let day = at.date_naive();
    let count = |query: String| {
        let (app, admin) = (&app, &admin);
        async move { rows(&export(app, admin, &query).await).len() }
    };
    assert_eq!(count(format!("created_to={day}")).await, 1);
    assert_eq!(count(format!("created_from={day}")).await, 1);
    assert_eq!(count(format!("created_from={}", day.succ_opt().unwrap())).await, 0);

    // The statistics file too.
    let committee = app.unit_id(&admin, "JM").await;
    let stats = app
        .get(&format!("/api/v1/stats?unit_id={committee}"), Some(&admin))
        .await
        .expect(200)
        .clone();
    let csv = app
        .raw(
            Method::GET,
            &format!("/api/v1/stats?unit_id={committee}"),
            Some(&admin),
            &[("Accept", "text/csv")],
            None,
        )
        .await;
    let lines: Vec<&str> = csv.text.split("\r\n").collect();
    assert_eq!(lines[0], "\u{feff}metric,value");
    assert_eq!(
        lines[2],
        format!("from,{}", local(stats["from"].as_str().unwrap(), NEW_YORK))
    );
    // `to` is now: a moment after the JSON's, with New York's offset.
    let to = lines[3].strip_prefix("to,").unwrap();
    let json_to = DateTime::parse_from_rfc3339(stats["to"].as_str().unwrap()).unwrap();
    let since_json = DateTime::parse_from_rfc3339(to).unwrap() - json_to;
    assert!(
        since_json >= chrono::Duration::zero() && since_json < chrono::Duration::minutes(1),
        "{to}"
    );
    assert!(to.ends_with(&offset), "{to}");
}

#[actix_web::test]
async fn a_resident_exports_their_own_tickets_and_disputes_they_are_party_to() {
    let app = TestApp::with_demo().await;
    let (r1, r2, r3) = (
        app.token("resident01").await,
        app.token("resident02").await,
        app.token("resident03").await,
    );
    let r1_id = app.get("/api/v1/me", Some(&r1)).await.expect(200)["id"].clone();
    let own = file(&app, &r1, "noise", "楼上装修噪音").await["id"].as_i64().unwrap();
    let other = file(&app, &r2, "parking", "消防通道被占用").await["id"]
        .as_i64()
        .unwrap();
    let dispute = app
        .post(
            "/api/v1/disputes",
            Some(&r3),
            json!({"category": "neighbour_dispute", "title": "漏水纠纷", "description": "协商未果。",
                "respondents": [{"user_id": r1_id}]}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let mine = same_as_json(&app, &r1, "resident01", "").await;
    assert_eq!(ids(&mine), [dispute, own]);
    assert!(!ids(&mine).contains(&other));
    assert_eq!(mine[0]["kind_zh"], "矛盾纠纷");
    let theirs = same_as_json(&app, &r2, "resident02", "").await;
    assert_eq!(ids(&theirs), [other]);
}

#[actix_web::test]
async fn the_export_refuses_what_the_list_refuses() {
    let app = TestApp::with_demo().await;
    let admin = app.token("jm.admin").await;
    app.raw(Method::GET, "/api/v1/tickets/export", None, &[], None)
        .await
        .expect_problem(401, "missing_token");
    app.raw(Method::GET, "/api/v1/tickets/export", Some("not-a-token"), &[], None)
        .await
        .expect_problem(401, "invalid_token");
    for (query, field) in [
        ("status=open", "status"),
        ("status=assigned,", "status"),
        ("category=nope", "category"),
        ("unit_id=999999", "unit_id"),
        ("created_from=2026-13-01", "created_from"),
        ("overdue=maybe", "overdue"),
        (&*format!("q={}", "%E9%95%BF".repeat(101)), "q"),
    ] {
        let res = export(&app, &admin, query).await;
        res.expect_problem(422, "validation_failed");
        assert_eq!(res.error_fields(), [field], "{query}");
    }
}
