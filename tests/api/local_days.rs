//! People name days and months where they live: date-only filters and
//! calendar months are read in the deployment's time zone, and lists take
//! several statuses at once.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::tickets::file;

fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

/// Moves the app's clock forward to the next `hh:mm` local time in `tz`,
/// and returns that local day.
fn advance_to_local(app: &TestApp, tz: Tz, hour: u32, minute: u32) -> NaiveDate {
    let now = app.clock.now();
    let local = now.with_timezone(&tz).date_naive();
    let target = [local, local.succ_opt().unwrap()]
        .into_iter()
        .map(|day| {
            tz.from_local_datetime(&day.and_hms_opt(hour, minute, 0).unwrap())
                .unwrap()
                .with_timezone(&Utc)
        })
        .find(|t| *t > now)
        .unwrap();
    app.clock.advance(target - now);
    target.with_timezone(&tz).date_naive()
}

async fn list(app: &TestApp, token: &str, query: &str) -> Vec<i64> {
    ids(&app
        .get(&format!("/api/v1/tickets?{query}"), Some(token))
        .await
        .expect(200)
        .clone())
}

#[actix_web::test]
async fn a_date_alone_is_a_whole_day_in_the_deployment_time_zone() {
    let app = TestApp::with_demo().await;
    // Half an hour before midnight in Shanghai, then half an hour after.
    let day = advance_to_local(&app, chrono_tz::Asia::Shanghai, 23, 30);
    let late = file(&app, &app.token("resident01").await, "noise", "深夜噪音").await["id"]
        .as_i64()
        .unwrap();
    app.clock.advance(Duration::hours(1));
    let next = day.succ_opt().unwrap();
    let early = file(&app, &app.token("resident01").await, "noise", "凌晨噪音").await["id"]
        .as_i64()
        .unwrap();

    let admin = app.token("jm.admin").await;
    assert_eq!(list(&app, &admin, &format!("created_from={next}")).await, [early]);
    assert_eq!(list(&app, &admin, &format!("created_to={day}")).await, [late]);
    assert_eq!(
        list(&app, &admin, &format!("created_from={day}&created_to={day}")).await,
        [late]
    );
    assert_eq!(
        list(&app, &admin, &format!("created_from={day}&created_to={next}")).await,
        [early, late]
    );
    assert_eq!(list(&app, &admin, &format!("updated_since={next}")).await, [early]);
    // An instant still means that instant.
    let midnight = chrono_tz::Asia::Shanghai
        .from_local_datetime(&next.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .to_rfc3339()
        .replace('+', "%2B");
    assert_eq!(list(&app, &admin, &format!("created_from={midnight}")).await, [early]);

    // Another deployment in UTC reads the same dates as UTC days: both
    // tickets were filed on `day` there (15:30 and 16:30 UTC).
    let utc = app.replica_with(|state| state.time_zone = chrono_tz::UTC).await;
    let admin = utc.token("jm.admin").await;
    assert_eq!(
        list(&utc, &admin, &format!("created_from={next}")).await,
        Vec::<i64>::new()
    );
    assert_eq!(list(&utc, &admin, &format!("created_to={day}")).await, [early, late]);

    for bad in ["2026-02-30", "2026-11-30T25:00:00Z", "2026-1-30", "30.11.2026"] {
        let res = app
            .get(&format!("/api/v1/tickets?created_from={bad}"), Some(&admin))
            .await;
        assert_eq!(res.status.as_u16(), 422, "{bad}");
        assert_eq!(res.error_fields(), ["created_from"], "{bad}");
    }
}

#[actix_web::test]
async fn lists_take_several_statuses_at_once() {
    let app = TestApp::with_demo().await;
    let resident = app.token("resident01").await;
    let assigned = file(&app, &resident, "noise", "装修噪音").await["id"].as_i64().unwrap();
    let accepted = file(&app, &resident, "noise", "楼上噪音").await["id"].as_i64().unwrap();
    let withdrawn = file(&app, &resident, "noise", "已解决的噪音").await["id"]
        .as_i64()
        .unwrap();
    let worker = app.token("jm.b1.bldg1.h1").await;
    app.post(&format!("/api/v1/tickets/{accepted}/accept"), Some(&worker), json!({}))
        .await
        .expect(200);
    app.post(
        &format!("/api/v1/tickets/{withdrawn}/withdraw"),
        Some(&resident),
        json!({"reason": "已自行解决"}),
    )
    .await
    .expect(200);

    let admin = app.token("jm.admin").await;
    assert_eq!(list(&app, &admin, "status=assigned").await, [assigned]);
    assert_eq!(
        list(&app, &admin, "status=assigned,accepted").await,
        [accepted, assigned]
    );
    assert_eq!(
        list(&app, &admin, "status=accepted%2Cassigned").await,
        [accepted, assigned]
    );
    assert_eq!(
        list(&app, &admin, "status=withdrawn,assigned,assigned").await,
        [withdrawn, assigned]
    );
    assert_eq!(list(&app, &admin, "status=closed,merged").await, Vec::<i64>::new());
    // The resident's own list and the complaints list take the same filter.
    assert_eq!(
        list(&app, &resident, "status=accepted,withdrawn").await,
        [withdrawn, accepted]
    );
    let complaints = app
        .get("/api/v1/complaints?status=assigned,accepted", Some(&admin))
        .await
        .expect(200)
        .clone();
    assert_eq!(ids(&complaints), [accepted, assigned]);

    // An empty value, as a form or an empty array sends it, is no filter.
    assert_eq!(list(&app, &admin, "status=").await, [withdrawn, accepted, assigned]);
    for bad in ["assigned,,accepted", "assigned,open", ",", "ASSIGNED"] {
        let res = app.get(&format!("/api/v1/tickets?status={bad}"), Some(&admin)).await;
        assert_eq!(res.status.as_u16(), 422, "{bad}");
        assert_eq!(res.error_fields(), ["status"], "{bad}");
    }
    let res = app
        .raw(
            awc::http::Method::GET,
            "/api/v1/tickets?status=assigned,open",
            Some(&admin),
            &[("Accept-Language", "zh-CN")],
            None,
        )
        .await;
    let message = res.body["errors"][0]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("assigned、accepted"), "{message}");
    assert!(!message.contains("variant"), "{message}");
    // Given twice, as generated clients send lists, it means the same; any
    // other parameter given twice is still refused, naming it.
    assert_eq!(
        list(&app, &admin, "status=assigned&limit=5&status=accepted").await,
        [accepted, assigned]
    );
    let res = app
        .get("/api/v1/tickets?kind=complaint&kind=dispute", Some(&admin))
        .await;
    assert_eq!(res.error_fields(), ["kind"]);
    assert_eq!(res.body["errors"][0]["code"], "repeated");
    let res = app
        .get("/api/v1/tickets?status=assigned&status=open", Some(&admin))
        .await;
    assert_eq!(res.error_fields(), ["status"]);
}

#[actix_web::test]
async fn statistics_count_a_calendar_month_in_the_deployment_time_zone() {
    let app = TestApp::with_demo().await;
    let tz = chrono_tz::Asia::Shanghai;
    // One ticket late on the last evening of a month, one early on the first
    // morning of the next.
    let now = app.clock.now().with_timezone(&tz).date_naive();
    let first_of_next = NaiveDate::from_ymd_opt(now.year_next(), now.month_next(), 1).unwrap();
    let evening = tz
        .from_local_datetime(&first_of_next.pred_opt().unwrap().and_hms_opt(23, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    app.clock.advance(evening - app.clock.now());
    file(&app, &app.token("resident01").await, "noise", "月末噪音").await;
    app.clock.advance(Duration::hours(2));
    file(&app, &app.token("resident02").await, "noise", "月初噪音").await;
    file(&app, &app.token("resident03").await, "leak", "月初漏水").await;

    let admin = app.token("jm.admin").await;
    let root = app.unit_id(&admin, "JM").await;
    let month = |d: NaiveDate| d.format("%Y-%m").to_string();
    let stats = |query: String| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.get(&format!("/api/v1/stats?unit_id={root}&{query}"), Some(&admin))
                .await
                .expect(200)
                .clone()
        }
    };
    let ended = stats(format!("month={}", month(evening.with_timezone(&tz).date_naive()))).await;
    assert_eq!(ended["total"], 1);
    let started = stats(format!("month={}", month(first_of_next))).await;
    assert_eq!(started["total"], 2);
    // The period is named by its instants in UTC: local midnights.
    let midnight: DateTime<Utc> = tz
        .from_local_datetime(&first_of_next.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(ended["to"], midnight.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    assert_eq!(started["from"], ended["to"]);
    // The same month by its first and last days.
    let last = NaiveDate::from_ymd_opt(first_of_next.year_next(), first_of_next.month_next(), 1)
        .unwrap()
        .pred_opt()
        .unwrap();
    let by_days = stats(format!("from={first_of_next}&to={last}")).await;
    assert_eq!(
        (&by_days["from"], &by_days["to"], &by_days["total"]),
        (&started["from"], &started["to"], &started["total"])
    );
    // The league table takes months too.
    let table = app
        .get(
            &format!("/api/v1/stats/units?parent_id={root}&month={}", month(first_of_next)),
            Some(&admin),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(table["from"], started["from"]);

    // The first and last months RFC 3339 can name: the period is named
    // within its years (year 0's January starts before 0000-01-01 in UTC+8).
    let first = stats("month=0000-01".to_owned()).await;
    assert_eq!(first["from"], "0000-01-01T00:00:00Z");
    let last = stats("month=9999-12".to_owned()).await;
    assert_eq!(last["to"], "9999-12-31T16:00:00Z");
    let far = stats("from=0000-01-01&to=9999-12-31".to_owned()).await;
    assert_eq!(
        (far["from"].as_str(), far["to"].as_str()),
        (Some("0000-01-01T00:00:00Z"), Some("9999-12-31T16:00:00Z"))
    );
    for (query, field) in [
        ("month=2026-13", "month"),
        ("month=2026-1", "month"),
        ("month=2026-11-01", "month"),
        ("month=2026-11&from=2026-11-01", "month"),
        ("month=2026-11&to=2026-11-30", "month"),
        ("from=2026-11-31", "from"),
    ] {
        let res = app
            .get(&format!("/api/v1/stats?unit_id={root}&{query}"), Some(&admin))
            .await;
        assert_eq!(res.status.as_u16(), 422, "{query}");
        assert_eq!(res.error_fields(), [field], "{query}");
    }
}

/// The month after a date's, as year and month.
trait NextMonth {
    fn year_next(&self) -> i32;
    fn month_next(&self) -> u32;
}

impl NextMonth for NaiveDate {
    fn year_next(&self) -> i32 {
        use chrono::Datelike;
        if self.month() == 12 {
            self.year() + 1
        } else {
            self.year()
        }
    }
    fn month_next(&self) -> u32 {
        use chrono::Datelike;
        self.month() % 12 + 1
    }
}
