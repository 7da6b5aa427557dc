//! The deadline worker (督办), run inside `griddesk serve`:
//! - a ticket not signed for in time is escalated to the parent unit, as a
//!   system event (at the committee, where nothing is above, the breach is
//!   flagged instead, once);
//! - a missed resolve deadline is flagged, once;
//! - a resolution the reporter left unconfirmed for 7 days is closed;
//! - when a set share of a deadline's time is gone (75% by default,
//!   `--deadline-warning-percent`), the unit holding the ticket is warned,
//!   once per deadline;
//! - a settled dispute's follow-up visit (履行回访) that falls due is told
//!   to the unit holding it, once per due date.
//!
//! With several replicas on one PostgreSQL database, each ticket is handled
//! exactly once: a worker claims tickets with `FOR UPDATE SKIP LOCKED`, and a
//! handled ticket no longer matches the worker's query. On SQLite the write
//! transaction serializes workers.

use std::time::Instant;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::tickets;
use crate::db::{AnyConnection, Db, queries};
use crate::domain::ids::TicketId;
use crate::domain::lifecycle::{DeadlineStep, auto_close_resolved_before};
use crate::domain::notify::Deadline;
use crate::domain::sla::{RESOLVE_CLOCK_RUNS, SIGN_FOR_CLOCK_RUNS, WarnAt};
use crate::domain::ticket::Status;
use crate::error::ApiError;
use crate::metrics::WorkerPass::{Deadlines, PruneAttempts, PruneNotifications, PruneSessions};
use crate::service::lifecycle::apply_deadline_step;

/// Tickets handled per transaction.
const BATCH: i64 = 100;

/// What one pass of the worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub escalated: usize,
    pub accept_breaches: usize,
    pub resolve_breaches: usize,
    pub closed: usize,
    /// Pre-breach warnings sent (one per ticket and deadline).
    pub warnings: usize,
    /// Follow-up visits told of as due (one per visit and due date).
    pub follow_ups_due: usize,
}

impl Report {
    pub fn total(&self) -> usize {
        self.escalated
            + self.accept_breaches
            + self.resolve_breaches
            + self.closed
            + self.warnings
            + self.follow_ups_due
    }

    fn add(&mut self, other: Self) {
        self.escalated += other.escalated;
        self.accept_breaches += other.accept_breaches;
        self.resolve_breaches += other.resolve_breaches;
        self.closed += other.closed;
        self.warnings += other.warnings;
        self.follow_ups_due += other.follow_ups_due;
    }
}

fn names(statuses: &[Status]) -> Vec<&'static str> {
    statuses.iter().map(|s| s.as_str()).collect()
}

/// Claims up to `BATCH` tickets due for `step`, locked for this transaction.
fn claim(conn: &mut AnyConnection, step: DeadlineStep, now: NaiveDateTime) -> QueryResult<Vec<i64>> {
    // The same query for either backend; PostgreSQL adds the lock clause.
    macro_rules! claim_with {
        ($query:expr) => {
            match conn {
                AnyConnection::Postgres(pg) => $query.for_update().skip_locked().load(pg),
                AnyConnection::Sqlite(sqlite) => $query.load(sqlite),
            }
        };
    }
    match step {
        DeadlineStep::SignForMissed => claim_with!(
            tickets::table
                .filter(tickets::status.eq_any(names(&SIGN_FOR_CLOCK_RUNS)))
                .filter(tickets::accept_breached_at.is_null())
                .filter(tickets::accept_due_at.lt(now))
                .order(tickets::accept_due_at.asc())
                .select(tickets::id)
                .limit(BATCH)
        ),
        DeadlineStep::ResolveMissed => claim_with!(
            tickets::table
                .filter(tickets::status.eq_any(names(&RESOLVE_CLOCK_RUNS)))
                .filter(tickets::resolve_breached_at.is_null())
                .filter(tickets::resolve_due_at.lt(now))
                .order(tickets::resolve_due_at.asc())
                .select(tickets::id)
                .limit(BATCH)
        ),
        DeadlineStep::AutoClose => claim_with!(
            tickets::table
                .filter(tickets::status.eq(Status::Resolved.as_str()))
                .filter(tickets::resolved_at.lt(auto_close_resolved_before(now)))
                .order(tickets::resolved_at.asc())
                .select(tickets::id)
                .limit(BATCH)
        ),
    }
}

/// Handles one claimed ticket through the same service as every other
/// lifecycle step, and counts what it did.
fn handle(
    conn: &mut AnyConnection,
    step: DeadlineStep,
    id: i64,
    now: NaiveDateTime,
    report: &mut Report,
) -> Result<(), ApiError> {
    let Some(plan) = apply_deadline_step(conn, TicketId(id), step, now)? else {
        return Ok(());
    };
    let counter = match step {
        DeadlineStep::SignForMissed if plan.arrive_at.is_some() => &mut report.escalated,
        DeadlineStep::SignForMissed => &mut report.accept_breaches,
        DeadlineStep::ResolveMissed => &mut report.resolve_breaches,
        DeadlineStep::AutoClose => &mut report.closed,
    };
    *counter += 1;
    Ok(())
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Claims up to `BATCH` open tickets whose `deadline` has `warn_at` of its
/// time gone, not yet warned of and not yet missed, locked for this
/// transaction. The share is asked of the database, so that only due
/// tickets are read; `WarnAt::time` is the same rule.
fn claim_warnings(
    conn: &mut AnyConnection,
    deadline: Deadline,
    now: NaiveDateTime,
    warn_at: WarnAt,
) -> QueryResult<Vec<i64>> {
    use diesel::sql_types::{Double, Timestamp};
    let (statuses, due, warned, breached) = match deadline {
        Deadline::SignFor => (
            names(&SIGN_FOR_CLOCK_RUNS),
            "accept_due_at",
            "accept_warned_due",
            "accept_breached_at",
        ),
        Deadline::Resolve => (
            names(&RESOLVE_CLOCK_RUNS),
            "resolve_due_at",
            "resolve_warned_due",
            "resolve_breached_at",
        ),
    };
    // Status names are the program's own constants.
    let statuses = statuses.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
    let head = format!(
        "SELECT id FROM tickets WHERE status IN ({statuses}) AND {breached} IS NULL AND {due} > $1 \
         AND ({warned} IS NULL OR {warned} <> {due}) AND "
    );
    let tail = format!("ORDER BY {due} LIMIT {BATCH}");
    let from = "COALESCE(arrived_at, created_at)";
    let claimed: Vec<Claimed> = match conn {
        AnyConnection::Postgres(pg) => diesel::sql_query(format!(
            "{head}$1 >= {from} + $2 * ({due} - {from}) {tail} FOR UPDATE SKIP LOCKED"
        ))
        .bind::<Timestamp, _>(now)
        .bind::<Double, _>(warn_at.share())
        .load(pg)?,
        // `$1` twice is one parameter in SQLite too.
        AnyConnection::Sqlite(sqlite) => diesel::sql_query(format!(
            "{head}julianday($1) >= julianday({from}) + $2 * (julianday({due}) - julianday({from})) {tail}"
        ))
        .bind::<Timestamp, _>(now)
        .bind::<Double, _>(warn_at.share())
        .load(sqlite)?,
    };
    Ok(claimed.into_iter().map(|c| c.id).collect())
}

/// Warns of one claimed ticket's deadline and remembers that it did.
fn warn(conn: &mut AnyConnection, deadline: Deadline, id: i64, now: NaiveDateTime) -> Result<(), ApiError> {
    let Some(ticket) = crate::db::tickets::find_ticket(conn, id)? else {
        return Ok(());
    };
    crate::db::tickets::mark_warned(conn, &ticket, deadline)?;
    crate::service::timeline::warn(conn, &ticket, deadline, now)
}

/// One pass over every job, in batches, until nothing is due, with
/// warnings at the default share ([`WarnAt::DEFAULT`]).
pub fn run_once(db: &Db, now: NaiveDateTime) -> Result<Report, ApiError> {
    run_pass(db, now, WarnAt::DEFAULT)
}

/// One pass over every job, in batches, until nothing is due.
pub fn run_pass(db: &Db, now: NaiveDateTime, warn_at: WarnAt) -> Result<Report, ApiError> {
    let mut report = Report::default();
    for step in [
        DeadlineStep::SignForMissed,
        DeadlineStep::ResolveMissed,
        DeadlineStep::AutoClose,
    ] {
        loop {
            let (handled, done) = db.write_blocking(move |conn| {
                let mut done = Report::default();
                let ids = claim(conn, step, now)?;
                for id in &ids {
                    handle(conn, step, *id, now, &mut done)?;
                }
                Ok((ids.len(), done))
            })?;
            report.add(done);
            if handled < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
    }
    // After the misses: a deadline already missed is not warned of.
    for deadline in [Deadline::SignFor, Deadline::Resolve] {
        loop {
            let handled = db.write_blocking(move |conn| {
                let ids = claim_warnings(conn, deadline, now, warn_at)?;
                for id in &ids {
                    warn(conn, deadline, *id, now)?;
                }
                Ok(ids.len())
            })?;
            report.warnings += handled;
            if handled < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
    }
    loop {
        let handled = db.write_blocking(move |conn| {
            let ids = crate::db::mediation::claim_due_follow_ups(conn, now, BATCH)?;
            for id in &ids {
                remind_follow_up(conn, *id, now)?;
            }
            Ok(ids.len())
        })?;
        report.follow_ups_due += handled;
        if handled < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            break;
        }
    }
    Ok(report)
}

/// Tells the unit of one claimed follow-up that it is due, and remembers it.
fn remind_follow_up(conn: &mut AnyConnection, id: i64, now: NaiveDateTime) -> Result<(), ApiError> {
    let Some(follow_up) = crate::db::mediation::find_follow_up(conn, id)? else {
        return Ok(());
    };
    let ticket = crate::db::tickets::find_ticket(conn, follow_up.ticket_id)?.ok_or(ApiError::Internal)?;
    crate::db::mediation::mark_reminded(conn, &follow_up)?;
    crate::service::timeline::remind_follow_up(conn, &ticket, follow_up.due_at, now)
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
    let mut pruned = 0;
    // Bounded: a pass deletes at most 100 batches; the rest waits for the next.
    for _ in 0..100 {
        let deleted = db.write_blocking(move |conn| Ok(queries::delete_dead_sessions(conn, cutoff, 500)?))?;
        pruned += deleted;
        if deleted < 500 {
            break;
        }
    }
    Ok(pruned)
}

/// Deletes notifications created more than `retention_days` before `now`,
/// oldest first, in batches. Returns how many went.
pub fn prune_notifications(db: &Db, now: NaiveDateTime, retention_days: u32) -> Result<usize, ApiError> {
    let cutoff = now - chrono::Duration::days(i64::from(retention_days));
    let mut pruned = 0;
    // Bounded: a pass deletes at most 100 batches; the rest waits for the next.
    for _ in 0..100 {
        let deleted =
            db.write_blocking(move |conn| Ok(crate::db::notifications::delete_older_than(conn, cutoff, 1000)?))?;
        pruned += deleted;
        if deleted < 1000 {
            break;
        }
    }
    Ok(pruned)
}

/// Runs the worker every `interval` until the server stops; prunes ended
/// sessions and old notifications once an hour and expired limit attempts
/// every pass. Each pass
/// is timed and, when it succeeds, stamped in `metrics`.
pub async fn run_forever(
    db: Db,
    clock: crate::clock::Clock,
    interval: std::time::Duration,
    warn_at: WarnAt,
    notification_retention_days: u32,
    metrics: crate::metrics::Metrics,
) {
    metrics.worker_started();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_prune: Option<NaiveDateTime> = None;
    loop {
        ticker.tick().await;
        let now = clock.now_naive();
        if last_prune.is_none_or(|at| now - at >= chrono::Duration::minutes(PRUNE_EVERY_MINUTES)) {
            last_prune = Some(now);
            let sessions_db = db.clone();
            let started = Instant::now();
            let outcome = actix_web::web::block(move || prune_sessions(&sessions_db, now)).await;
            metrics.observe_pass(
                PruneSessions,
                started.elapsed(),
                matches!(outcome, Ok(Ok(_))),
                clock.now(),
            );
            match outcome {
                Ok(Ok(0)) => {}
                Ok(Ok(pruned)) => tracing::info!(pruned, "ended sessions deleted"),
                Ok(Err(error)) => tracing::error!(%error, "pruning sessions failed"),
                Err(error) => tracing::error!(%error, "pruning sessions could not run"),
            }
            let notifications_db = db.clone();
            let started = Instant::now();
            let outcome =
                actix_web::web::block(move || prune_notifications(&notifications_db, now, notification_retention_days))
                    .await;
            metrics.observe_pass(
                PruneNotifications,
                started.elapsed(),
                matches!(outcome, Ok(Ok(_))),
                clock.now(),
            );
            match outcome {
                Ok(Ok(0)) => {}
                Ok(Ok(pruned)) => tracing::info!(pruned, "old notifications deleted"),
                Ok(Err(error)) => tracing::error!(%error, "pruning notifications failed"),
                Err(error) => tracing::error!(%error, "pruning notifications could not run"),
            }
        }
        // Attempts counted against limits leave their window within the
        // hour: delete them every pass, so a flood of distinct keys cannot
        // grow the table beyond what one window holds.
        let limits_db = db.clone();
        let started = Instant::now();
        let outcome = actix_web::web::block(move || crate::limits::prune(&limits_db, now)).await;
        metrics.observe_pass(
            PruneAttempts,
            started.elapsed(),
            matches!(outcome, Ok(Ok(_))),
            clock.now(),
        );
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(%error, "pruning counted attempts failed"),
            Err(error) => tracing::error!(%error, "pruning counted attempts could not run"),
        }
        let db = db.clone();
        let started = Instant::now();
        let outcome = actix_web::web::block(move || run_pass(&db, now, warn_at)).await;
        metrics.observe_pass(Deadlines, started.elapsed(), matches!(outcome, Ok(Ok(_))), clock.now());
        match outcome {
            Ok(Ok(report)) if report.total() > 0 => {
                metrics.count_deadline_actions(&report);
                tracing::info!(
                    escalated = report.escalated,
                    accept_breaches = report.accept_breaches,
                    resolve_breaches = report.resolve_breaches,
                    closed = report.closed,
                    warnings = report.warnings,
                    follow_ups_due = report.follow_ups_due,
                    "deadline worker pass"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(%error, "deadline worker pass failed"),
            Err(error) => tracing::error!(%error, "deadline worker could not run"),
        }
    }
}
