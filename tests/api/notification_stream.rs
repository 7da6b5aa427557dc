//! The notification stream (Server-Sent Events) read by a real streaming
//! client over loopback: events as they happen, resuming with
//! `Last-Event-ID` without gaps or repeats, heartbeats, and its bounds.

use std::time::Duration as StdDuration;

use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;

use crate::support::TestApp;
use crate::tickets::file;

/// What a stream sent: an event (its id and data) or a comment line.
#[derive(Debug, Clone, PartialEq)]
enum Frame {
    Event { id: i64, data: Value },
    Comment(String),
}

/// An open stream and what it has sent but not yet been read.
struct Sse<S> {
    body: S,
    buffer: String,
}

impl<S, E> Sse<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Debug,
{
    /// The next frame, `None` when the server ended the stream. Waits at
    /// most 15 s (a test that hangs fails instead).
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&block));
            }
            let chunk = actix_web::rt::time::timeout(StdDuration::from_secs(15), self.body.next())
                .await
                .expect("the stream sent nothing for 15 s")?;
            self.buffer.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
    }

    /// The next event, skipping comments (at most 100 of them: the test
    /// fails rather than wait for an event that never comes).
    async fn event(&mut self) -> (i64, Value) {
        for _ in 0..100 {
            match self.next().await.expect("the stream ended") {
                Frame::Event { id, data } => return (id, data),
                Frame::Comment(_) => {}
            }
        }
        panic!("no event after 100 comments");
    }

    /// Reads until a heartbeat, returning the events before it.
    async fn until_heartbeat(&mut self) -> Vec<i64> {
        let mut ids = Vec::new();
        for _ in 0..1000 {
            match self.next().await.expect("the stream ended") {
                Frame::Event { id, .. } => ids.push(id),
                Frame::Comment(text) if text == "keep-alive" => return ids,
                Frame::Comment(_) => {}
            }
        }
        panic!("no heartbeat");
    }
}

fn parse(block: &str) -> Frame {
    let mut id = None;
    let mut data = None;
    for line in block.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix(": ") {
            return Frame::Comment(comment.to_owned());
        } else if let Some(value) = line.strip_prefix("id: ") {
            id = Some(value.parse().unwrap());
        } else if let Some(value) = line.strip_prefix("data: ") {
            data = Some(serde_json::from_str(value).unwrap());
        } else {
            assert_eq!(line, "event: notification", "unexpected line in {block:?}");
        }
    }
    Frame::Event {
        id: id.expect("an event has an id"),
        data: data.expect("an event has data"),
    }
}

fn client() -> awc::Client {
    awc::Client::builder().timeout(StdDuration::from_secs(30)).finish()
}

/// Opens a stream; the status and, when 200, the stream.
async fn open(
    app: &TestApp,
    token: &str,
    last_event_id: Option<i64>,
) -> (
    u16,
    Option<Sse<impl Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin>>,
) {
    let mut request = client()
        .get(format!("{}/api/v1/notifications/stream", app.base))
        .insert_header(("Authorization", format!("Bearer {token}")));
    if let Some(id) = last_event_id {
        request = request.insert_header(("Last-Event-ID", id.to_string()));
    }
    let res = request.send().await.unwrap();
    let status = res.status().as_u16();
    if status != 200 {
        return (status, None);
    }
    assert_eq!(
        res.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    (
        status,
        Some(Sse {
            body: res,
            buffer: String::new(),
        }),
    )
}

async fn quick(configure: impl FnOnce(&mut griddesk::api::notification_stream::Streams)) -> TestApp {
    let app = TestApp::spawn_with(|state| {
        state.streams.poll = StdDuration::from_millis(50);
        state.streams.heartbeat = StdDuration::from_millis(300);
        configure(&mut state.streams);
    })
    .await;
    app.load_demo().await;
    app
}

#[actix_web::test]
async fn events_arrive_as_they_happen_and_a_reconnection_resumes_exactly_after_the_last() {
    let app = quick(|_| {}).await;
    let resident = app.token("resident01").await;
    let household = app.token("jm.b1.bldg1.h1").await;
    // Something from before the stream opened is not sent again.
    file(&app, &resident, "noise", "早先的噪音").await;

    let (status, stream) = open(&app, &household, None).await;
    assert_eq!(status, 200);
    let mut stream = stream.unwrap();
    assert_eq!(stream.next().await, Some(Frame::Comment("connected".into())));
    let first = file(&app, &resident, "noise", "装修噪音").await["id"].as_i64().unwrap();
    let (seen, data) = stream.event().await;
    assert_eq!(
        (data["kind"].as_str(), data["ticket_id"].as_i64()),
        (Some("arrived"), Some(first))
    );
    assert_eq!(data["id"], seen);
    assert!(data["title"].is_string() && data["unit"]["name"].is_string());

    // The phone loses the connection; two more arrive meanwhile.
    drop(stream);
    let missed = [
        file(&app, &resident, "noise", "噪音二").await["id"].as_i64().unwrap(),
        file(&app, &resident, "noise", "噪音三").await["id"].as_i64().unwrap(),
    ];
    let (_, stream) = open(&app, &household, Some(seen)).await;
    let mut stream = stream.unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        let (id, data) = stream.event().await;
        assert!(id > seen);
        got.push(data["ticket_id"].as_i64().unwrap());
    }
    assert_eq!(got, missed, "exactly the missed ones, in order");
    assert!(stream.until_heartbeat().await.is_empty(), "nothing repeated");

    // A later one still comes, on the resumed stream.
    let later = file(&app, &resident, "noise", "噪音四").await["id"].as_i64().unwrap();
    assert_eq!(stream.event().await.1["ticket_id"], later);
}

#[actix_web::test]
async fn a_stream_shows_only_its_callers_notifications() {
    let app = quick(|_| {}).await;
    let resident = app.token("resident01").await;
    let other = app.token("jm.b1.bldg1.h2").await;
    let (_, stream) = open(&app, &other, None).await;
    let mut stream = stream.unwrap();
    file(&app, &resident, "noise", "装修噪音").await;
    assert!(stream.until_heartbeat().await.is_empty());
    assert!(stream.until_heartbeat().await.is_empty());
}

#[actix_web::test]
async fn streams_are_bounded_per_person_by_idleness_and_by_the_token() {
    let app = quick(|streams| {
        streams.per_user = 2;
        streams.idle = StdDuration::from_secs(2);
    })
    .await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let (_, a) = open(&app, &household, None).await;
    let (_, b) = open(&app, &household, None).await;
    let (status, _) = open(&app, &household, None).await;
    assert_eq!(status, 429, "a third stream of the same person");
    let res = app.get("/api/v1/notifications/stream", Some(&household)).await;
    res.expect_problem(429, "too_many_streams");
    // Another person is not counted against them.
    let (status, _) = open(&app, &app.token("jm.b1.bldg1.h2").await, None).await;
    assert_eq!(status, 200);

    // A dropped stream gives its place back once the server notices
    // (at its next heartbeat).
    drop(a);
    let mut reopened = None;
    for _ in 0..40 {
        actix_web::rt::time::sleep(StdDuration::from_millis(100)).await;
        if let (200, Some(stream)) = open(&app, &household, None).await {
            reopened = Some(stream);
            break;
        }
    }
    reopened.expect("the dropped stream's place came back");

    // Without notifications a stream ends after its idle time.
    let mut b = b.unwrap();
    let mut frames = 0;
    while b.next().await.is_some() {
        frames += 1;
        assert!(frames < 100, "the idle stream did not end");
    }
}

#[actix_web::test]
async fn a_stream_ends_when_its_access_token_expires() {
    // Never idle for long enough here: only the token can end it.
    let app = quick(|streams| streams.idle = StdDuration::from_secs(3600)).await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let (_, stream) = open(&app, &household, None).await;
    let mut stream = stream.unwrap();
    assert!(stream.until_heartbeat().await.is_empty());
    app.clock.advance(chrono::Duration::minutes(16));
    let mut frames = 0;
    while stream.next().await.is_some() {
        frames += 1;
        assert!(frames < 100, "the stream outlived its token");
    }
}

#[actix_web::test]
async fn a_bad_last_event_id_is_refused_and_no_token_is_401() {
    let app = quick(|_| {}).await;
    let household = app.token("jm.b1.bldg1.h1").await;
    let res = client()
        .get(format!("{}/api/v1/notifications/stream", app.base))
        .insert_header(("Authorization", format!("Bearer {household}")))
        .insert_header(("Last-Event-ID", "yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    app.get("/api/v1/notifications/stream?after=-1", Some(&household))
        .await
        .expect_problem(422, "validation_failed");
    app.get("/api/v1/notifications/stream", None).await.expect(401);
}
