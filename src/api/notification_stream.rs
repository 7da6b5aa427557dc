//! The caller's notifications as Server-Sent Events, for an app in the
//! foreground or an admin's page.
//!
//! Each open stream polls the notifications table (one indexed query per
//! [`Streams::poll`]) instead of listening for PostgreSQL's NOTIFY: it works
//! the same on SQLite and with several replicas on one PostgreSQL (a
//! notification written by any replica is a committed row every replica's
//! streams read), needs no connection held per replica, and an event is
//! never lost between a NOTIFY and a LISTEN. The cost is up to one poll
//! interval of delay and a small query a second per open stream; a stream
//! per person is bounded ([`Streams::per_user`]).
//!
//! Resuming: every event's `id` is the notification's id. A client that
//! reconnects with `Last-Event-ID` gets exactly the notifications after it,
//! in order; without it (a first connection) the stream starts after the
//! newest notification the caller already has (read those with
//! `GET /notifications`), or after `after` when given.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, http::header, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::QueryParams;
use super::notifications::{lang_of, response, units_of};
use super::problems::{TooManyRequests, Unauthorized, ValidationFailed};
use crate::auth::Auth;
use crate::db::notifications as store;
use crate::domain::text::{Invalid, Lang};
use crate::error::{ApiError, Text, Validator};
use crate::state::AppState;

/// The streams open on one server and the bounds every stream keeps.
#[derive(Clone)]
pub struct Streams {
    /// How often a stream asks the database for new notifications.
    pub poll: Duration,
    /// A comment line sent when nothing else was for this long, so that
    /// proxies and phones keep the connection and the client sees it alive.
    pub heartbeat: Duration,
    /// A stream that sent no notification for this long ends (the client
    /// reconnects with `Last-Event-ID`).
    pub idle: Duration,
    /// Open streams one person may hold on this server.
    pub per_user: usize,
    open: Arc<Mutex<HashMap<i64, usize>>>,
}

impl Default for Streams {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            heartbeat: Duration::from_secs(15),
            idle: Duration::from_secs(10 * 60),
            per_user: 3,
            open: Arc::default(),
        }
    }
}

impl Streams {
    /// A place for one more stream of `user_id`, if they have room.
    fn take(&self, user_id: i64) -> Option<Slot> {
        let mut open = self.open.lock().ok()?;
        let count = open.entry(user_id).or_insert(0);
        if *count >= self.per_user {
            return None;
        }
        *count += 1;
        Some(Slot {
            open: self.open.clone(),
            user_id,
        })
    }
}

/// An open stream's place; given back when the stream is dropped (the
/// client went away, or the stream ended).
struct Slot {
    open: Arc<Mutex<HashMap<i64, usize>>>,
    user_id: i64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock()
            && let Some(count) = open.get_mut(&self.user_id)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// On a first connection: start after this notification id (e.g. the
    /// newest one the app read with `GET /notifications`). `Last-Event-ID`,
    /// sent on a reconnection, wins over it.
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// Stream my notifications
///
/// Server-Sent Events (`text/event-stream`): each notification as
/// `id: <notification id>`, `event: notification`, `data: <the notification
/// as GET /notifications gives it, one line of JSON>`, in order. A comment
/// line (`: keep-alive`) comes every 15 seconds without events. Reconnect
/// with `Last-Event-ID` to get exactly what came after it; without it the
/// stream starts after your newest notification (or after `after`).
///
/// Bounded: at most 3 open streams a person on each server (the 4th is 429
/// `too_many_streams`); a stream ends when its access token expires (refresh
/// and reconnect) and after 10 minutes without a notification. New
/// notifications arrive within about a second: each stream reads the
/// database, so it sees every replica's.
#[utoipa::path(
    tag = "notifications",
    params(
        StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The `id` of the last event received, when reconnecting: the stream resumes after it."),
    ),
    responses(
        (status = 200, description = "An event stream of the caller's notifications.",
            content_type = "text/event-stream", body = String,
            example = json!("id: 88\nevent: notification\ndata: {\"id\":88,\"kind\":\"arrived\",\"ticket_id\":1024,...}\n\n: keep-alive\n\n")),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyRequests),
    ),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"429": ["too_many_streams"]})),
        ("x-field-codes" = json!({"Last-Event-ID": ["invalid"], "after": ["invalid"]}))
    )
)]
#[get("/notifications/stream")]
pub async fn stream_notifications(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    query: QueryParams<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validator::default();
    let resume = match req.headers().get("last-event-id") {
        None => None,
        Some(value) => {
            let id = value
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|id| *id >= 0);
            if id.is_none() {
                v.push("Last-Event-ID", invalid_id());
            }
            id
        }
    };
    if query.0.after.is_some_and(|after| after < 0) {
        v.push("after", invalid_id());
    }
    v.finish()?;
    let user_id = auth.user.id;
    let slot = state.streams.take(user_id).ok_or_else(|| ApiError::TooManyRequests {
        code: "too_many_streams",
        detail: Text::new(
            "You have as many notification streams open as allowed; close one (or wait for a dropped one to end).",
            "您打开的通知推送连接已达上限；请先关闭一个（或等待已断开的连接结束）。",
        ),
        retry_after: state.streams.heartbeat.as_secs().max(1),
    })?;
    let last_id = match resume.or(query.0.after) {
        Some(id) => id,
        None => state.db.run(move |conn| Ok(store::newest_id(conn, user_id)?)).await?,
    };
    let streaming = Streaming {
        lang: lang_of(&req),
        idle_until: Instant::now() + state.streams.idle,
        next_heartbeat: Instant::now() + state.streams.heartbeat,
        ends_at: auth.expires_at,
        state,
        user_id,
        last_id,
        pending: VecDeque::from([Bytes::from_static(b": connected\n\n")]),
        _slot: slot,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Proxies such as nginx would otherwise hold events back.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::stream::unfold(streaming, next_chunk)))
}

fn invalid_id() -> Invalid {
    Invalid::new(
        "invalid",
        "Send the id of a notification (a whole number, 0 or more).",
        "请提供通知的编号（0 或正整数）。",
    )
}

struct Streaming {
    state: web::Data<AppState>,
    user_id: i64,
    last_id: i64,
    lang: Lang,
    /// The access token's expiry (Unix seconds, by the app's clock).
    ends_at: i64,
    idle_until: Instant,
    next_heartbeat: Instant,
    pending: VecDeque<Bytes>,
    _slot: Slot,
}

/// The stream's next piece: an event, a heartbeat, or the end.
async fn next_chunk(mut s: Streaming) -> Option<(Result<Bytes, Infallible>, Streaming)> {
    loop {
        if let Some(chunk) = s.pending.pop_front() {
            return Some((Ok(chunk), s));
        }
        if s.state.clock.now().timestamp() >= s.ends_at || Instant::now() >= s.idle_until {
            return None;
        }
        let (user_id, after) = (s.user_id, s.last_id);
        let found = s
            .state
            .db
            .run(move |conn| {
                let rows = store::after(conn, user_id, after, 100)?;
                let units = units_of(conn, &rows)?;
                Ok((rows, units))
            })
            .await;
        // The database is away: end, and let the client reconnect with
        // its Last-Event-ID.
        let (rows, units) = found.ok()?;
        if !rows.is_empty() {
            for row in rows {
                let id = row.id;
                let notification = response(row, &units, s.lang, s.state.time_zone).ok()?;
                let data = serde_json::to_string(&notification).ok()?;
                s.pending
                    .push_back(Bytes::from(format!("id: {id}\nevent: notification\ndata: {data}\n\n")));
                s.last_id = id;
            }
            s.idle_until = Instant::now() + s.state.streams.idle;
            s.next_heartbeat = Instant::now() + s.state.streams.heartbeat;
            continue;
        }
        if Instant::now() >= s.next_heartbeat {
            s.next_heartbeat = Instant::now() + s.state.streams.heartbeat;
            s.pending.push_back(Bytes::from_static(b": keep-alive\n\n"));
            continue;
        }
        actix_web::rt::time::sleep(s.state.streams.poll).await;
    }
}
