//! The deadline worker (督办), run inside `griddesk serve`:
//! - a ticket not signed for in time is escalated to the parent unit, as a
//!   system event (at the committee, where nothing is above, the breach is
//!   flagged instead, once);
//! - a missed resolve deadline is flagged, once;
//! - a resolution the reporter left unconfirmed for 7 days is closed.
//!
//! With several replicas on one PostgreSQL database, each ticket is handled
//! exactly once: a worker claims tickets with `FOR UPDATE SKIP LOCKED`, and a
//! handled ticket no longer matches the worker's query. On SQLite the write
//! transaction serializes workers.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::models::NewEventRow;
use crate::db::schema::tickets;
use crate::db::tickets::{self as db, TicketChanges};
use crate::db::{AnyConnection, Db, queries, write_transaction};
use crate::domain::ticket::Status;
use crate::error::ApiError;

/// Resolved tickets the reporter leaves unconfirmed are closed after this.
pub const AUTO_CLOSE_AFTER_DAYS: i64 = 7;
/// Tickets handled per transaction.
const BATCH: i64 = 100;

/// What one pass of the worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub escalated: usize,
    pub accept_breaches: usize,
    pub resolve_breaches: usize,
    pub closed: usize,
}

impl Report {
    pub fn total(&self) -> usize {
        self.escalated + self.accept_breaches + self.resolve_breaches + self.closed
    }
}

#[derive(Clone, Copy)]
enum Job {
    AcceptDeadline,
    ResolveDeadline,
    AutoClose,
}

/// Claims up to `BATCH` tickets for `job`, locked for this transaction.
fn claim(conn: &mut AnyConnection, job: Job, now: NaiveDateTime) -> QueryResult<Vec<i64>> {
    let close_before = now - Duration::days(AUTO_CLOSE_AFTER_DAYS);
    // The same query for either backend; PostgreSQL adds the lock clause.
    macro_rules! claim_with {
        ($query:expr) => {
            match conn {
                AnyConnection::Postgres(pg) => $query.for_update().skip_locked().load(pg),
                AnyConnection::Sqlite(sqlite) => $query.load(sqlite),
            }
        };
    }
    match job {
        Job::AcceptDeadline => claim_with!(
            tickets::table
                .filter(tickets::status.eq(Status::Assigned.as_str()))
                .filter(tickets::accept_breached_at.is_null())
                .filter(tickets::accept_due_at.lt(now))
                .order(tickets::accept_due_at.asc())
                .select(tickets::id)
                .limit(BATCH)
        ),
        Job::ResolveDeadline => claim_with!(
            tickets::table
                .filter(tickets::status.eq_any([Status::Assigned.as_str(), Status::Accepted.as_str()]))
                .filter(tickets::resolve_breached_at.is_null())
                .filter(tickets::resolve_due_at.lt(now))
                .order(tickets::resolve_due_at.asc())
                .select(tickets::id)
                .limit(BATCH)
        ),
        Job::AutoClose => claim_with!(
            tickets::table
                .filter(tickets::status.eq(Status::Resolved.as_str()))
                .filter(tickets::resolved_at.lt(close_before))
                .order(tickets::resolved_at.asc())
                .select(tickets::id)
                .limit(BATCH)
        ),
    }
}

fn system_event(
    ticket_id: i64,
    kind: &str,
    from: Status,
    to: Status,
    units: (i64, Option<i64>),
    note: &str,
    now: NaiveDateTime,
) -> NewEventRow {
    NewEventRow {
        ticket_id,
        kind: kind.to_owned(),
        actor_id: None,
        from_status: Some(from.as_str().to_owned()),
        to_status: Some(to.as_str().to_owned()),
        from_unit_id: Some(units.0),
        to_unit_id: units.1,
        note: Some(note.to_owned()),
        internal: false,
        created_at: now,
    }
}

/// Handles one claimed ticket; returns which counter it adds to.
fn handle(
    conn: &mut AnyConnection,
    job: Job,
    id: i64,
    now: NaiveDateTime,
    report: &mut Report,
) -> Result<(), ApiError> {
    let Some(ticket) = db::find_ticket(conn, id)? else {
        return Ok(());
    };
    let status = ticket.status;
    let mut changes = TicketChanges {
        version: Some(ticket.version + 1),
        updated_at: Some(now),
        ..Default::default()
    };
    match job {
        Job::AcceptDeadline => {
            let unit = queries::find_unit(conn, ticket.current_unit_id)?.ok_or(ApiError::Internal)?;
            match unit.parent_id {
                Some(parent) => {
                    let category = db::find_category(conn, ticket.category_id)?.ok_or(ApiError::Internal)?;
                    changes.current_unit_id = Some(parent);
                    changes.arrived_from_unit_id = Some(Some(unit.id));
                    changes.escalation_count = Some(ticket.escalation_count + 1);
                    let parent_unit = queries::find_unit(conn, parent)?.ok_or(ApiError::Internal)?;
                    let (accept_due, resolve_due) =
                        db::arrival_deadlines(conn, &category, ticket.priority, parent_unit.level, now)?;
                    changes.accept_due_at = Some(accept_due);
                    changes.resolve_due_at = Some(resolve_due);
                    changes.resolve_breached_at = Some(None);
                    db::record_visit(conn, id, parent)?;
                    db::insert_event(
                        conn,
                        &system_event(
                            id,
                            "auto_escalate",
                            status,
                            status,
                            (unit.id, Some(parent)),
                            "not signed for in time: escalated by the deadline worker (督办)",
                            now,
                        ),
                    )?;
                    report.escalated += 1;
                }
                None => {
                    changes.accept_breached_at = Some(Some(now));
                    db::insert_event(
                        conn,
                        &system_event(
                            id,
                            "accept_overdue",
                            status,
                            status,
                            (unit.id, None),
                            "not signed for in time at the committee",
                            now,
                        ),
                    )?;
                    report.accept_breaches += 1;
                }
            }
        }
        Job::ResolveDeadline => {
            changes.resolve_breached_at = Some(Some(now));
            db::insert_event(
                conn,
                &system_event(
                    id,
                    "resolve_overdue",
                    status,
                    status,
                    (ticket.current_unit_id, None),
                    "not resolved in time",
                    now,
                ),
            )?;
            report.resolve_breaches += 1;
        }
        Job::AutoClose => {
            changes.status = Some(Status::Closed.as_str().to_owned());
            changes.closed_at = Some(Some(now));
            db::insert_event(
                conn,
                &system_event(
                    id,
                    "auto_close",
                    status,
                    Status::Closed,
                    (ticket.current_unit_id, None),
                    "closed automatically: the reporter did not confirm within 7 days",
                    now,
                ),
            )?;
            report.closed += 1;
        }
    }
    db::update_ticket(conn, id, &changes)?;
    Ok(())
}

/// One pass over every job, in batches, until nothing is due.
pub fn run_once(db: &Db, now: NaiveDateTime) -> Result<Report, ApiError> {
    let mut report = Report::default();
    let mut conn = db.conn()?;
    for job in [Job::AcceptDeadline, Job::ResolveDeadline, Job::AutoClose] {
        loop {
            let handled = write_transaction(&mut conn, |conn| {
                let ids = claim(conn, job, now)?;
                for id in &ids {
                    handle(conn, job, *id, now, &mut report)?;
                }
                Ok(ids.len())
            })?;
            if handled < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
    }
    Ok(report)
}

/// Sessions are kept this long after they end, then deleted.
const SESSION_RETENTION_DAYS: i64 = 1;
/// How often the worker looks for ended sessions.
const PRUNE_EVERY_MINUTES: i64 = 60;

/// Deletes sessions (and their refresh tokens) that ended more than a day
/// before `now`, in batches, so the tables do not grow with every sign-in.
/// Returns how many sessions went.
pub fn prune_sessions(db: &Db, now: NaiveDateTime) -> Result<usize, ApiError> {
    let cutoff = now - chrono::Duration::days(SESSION_RETENTION_DAYS);
    let mut conn = db.conn()?;
    let mut pruned = 0;
    // Bounded: a pass deletes at most 100 batches; the rest waits for the next.
    for _ in 0..100 {
        let deleted = write_transaction(&mut conn, |conn| Ok(queries::delete_dead_sessions(conn, cutoff, 500)?))?;
        pruned += deleted;
        if deleted < 500 {
            break;
        }
    }
    Ok(pruned)
}

/// Runs the worker every `interval` until the server stops; prunes ended
/// sessions once an hour.
pub async fn run_forever(db: Db, clock: crate::clock::Clock, interval: std::time::Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_prune: Option<NaiveDateTime> = None;
    loop {
        ticker.tick().await;
        let now = clock.now_naive();
        if last_prune.is_none_or(|at| now - at >= chrono::Duration::minutes(PRUNE_EVERY_MINUTES)) {
            last_prune = Some(now);
            let db = db.clone();
            match actix_web::web::block(move || prune_sessions(&db, now)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(pruned)) => tracing::info!(pruned, "ended sessions deleted"),
                Ok(Err(error)) => tracing::error!(%error, "pruning sessions failed"),
                Err(error) => tracing::error!(%error, "pruning sessions could not run"),
            }
        }
        let db = db.clone();
        match actix_web::web::block(move || run_once(&db, now)).await {
            Ok(Ok(report)) if report.total() > 0 => tracing::info!(
                escalated = report.escalated,
                accept_breaches = report.accept_breaches,
                resolve_breaches = report.resolve_breaches,
                closed = report.closed,
                "deadline worker pass"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(%error, "deadline worker pass failed"),
            Err(error) => tracing::error!(%error, "deadline worker could not run"),
        }
    }
}
