//! Audit rows written off the request path: admins' reads of personal data
//! are queued in memory and written in batches by a thread of their own, so
//! a read never waits for a write transaction.
//!
//! A batch is what arrives within [`GATHER`] of its first row (at most
//! [`BATCH`] rows): each commit costs the writer a write of the log (and on
//! SQLite a sync), so under a burst of reads the trail costs a commit per
//! many rows, not per row.
//!
//! What a crash can lose: rows still queued when the process is killed (at
//! most what arrived in the last [`GATHER`] before, plus a batch being
//! committed), and on PostgreSQL the batches committed in the database
//! server's last moments before it crashed ([`without_sync`]). A graceful
//! stop writes them all first
//! ([`AuditQueue::drain`]). Rows of writes are not queued: a change's row
//! is committed in the change's own transaction (`db::write_audit`), and a
//! refused write's once the answer is known (`api::audit::record`). So that
//! the trail (ordered by id) keeps the order things happened in, a write
//! whose row the trail records first has the reads queued before it written
//! ([`AuditQueue::settle`]).

use diesel::Connection;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::audit::{communities_of, community_exists, insert_audit, insert_audits};
use super::models::NewAuditRow;
use super::{AnyConnection, Db};
use crate::error::ApiError;
use crate::metrics::AuditQueueMetrics;
use crate::policy::audit::{AuditObject, filed_under};

/// Rows that may wait; past this, requests wait for room (nothing is
/// dropped). About a second of admins' reads at the most one server
/// answers on two cores (17,000-20,000 a second): under that load the
/// writer falls behind by 0.1-1 s at times (a checkpoint, a burst of CPU
/// for the requests), and 4,096 made reads wait (`full_waits`) in some
/// runs. A row takes about half a kilobyte, so a full queue some 8 MiB;
/// the queue holds only what waits.
const CAPACITY: usize = 16_384;
/// Rows written per transaction at most: a backlog is worked off in few
/// commits.
const BATCH: usize = 2048;
/// How long a batch waits for more rows after its first.
pub const GATHER: Duration = Duration::from_millis(10);

/// The community of the object a read answered about, left on the answer
/// by a handler that loaded it, so its queued row need not look it up again.
#[derive(Debug, Clone, Copy)]
pub struct ObjectCommunity(pub i64);

/// A row whose community is decided when it is written: the community of
/// the object it names (or, for a deletion, the communities looked up
/// before the object went), else the actor's.
#[derive(Debug, Clone)]
pub struct PendingAudit {
    pub row: NewAuditRow,
    pub object: Option<AuditObject>,
    /// The object's community, when the write that created it knew it.
    pub object_community: Option<i64>,
    pub deleted: Option<Vec<i64>>,
}

impl PendingAudit {
    /// Files the row under its community and appends it; returns its id.
    pub fn write(self, conn: &mut AnyConnection) -> Result<i64, ApiError> {
        let row = self.filed(conn)?;
        Ok(insert_audit(conn, &row)?)
    }

    /// The row, filed under its community.
    fn filed(mut self, conn: &mut AnyConnection) -> Result<NewAuditRow, ApiError> {
        let communities = match (self.deleted.clone(), self.object_community, self.object) {
            (Some(communities), _, _) if !communities.is_empty() => communities,
            (_, Some(community), _) => vec![community],
            (_, None, Some(object)) => communities_of(conn, object)?,
            (_, None, None) => Vec::new(),
        };
        self.row.community_id = filed_under(&communities, self.row.community_id);
        if self.deleted.is_some()
            && let Some(community) = self.row.community_id
            && !community_exists(conn, community)?
        {
            // The whole community was deleted: only super-admins read it.
            self.row.community_id = None;
        }
        Ok(self.row)
    }
}

enum Message {
    Row(Box<PendingAudit>),
    /// Answered once every row sent before it is written (or given up on).
    Drained(SyncSender<()>),
}

/// The queue's handle; clones share one writing thread, which stops after
/// the last handle is dropped and what was queued is written.
#[derive(Clone)]
pub struct AuditQueue {
    sender: SyncSender<Message>,
    /// The writing thread, woken early by a drain (rows never wake it
    /// while it gathers: that would cost a wake-up per read).
    gatherer: Thread,
    /// Its depth gauge counts the rows queued and not yet written (or
    /// given up on).
    metrics: AuditQueueMetrics,
}

impl AuditQueue {
    pub fn start(db: Db, metrics: AuditQueueMetrics) -> std::io::Result<Self> {
        let (sender, receiver) = sync_channel(CAPACITY);
        let counted = metrics.clone();
        let gatherer = std::thread::Builder::new()
            .name("griddesk-audit".into())
            .spawn(move || serve(&db, &receiver, &counted))?
            .thread()
            .clone();
        Ok(Self {
            sender,
            gatherer,
            metrics,
        })
    }

    /// Queues a row; waits (on a blocking thread) only when the queue is full.
    pub async fn push(&self, row: PendingAudit) {
        self.metrics.depth.inc();
        let sent = match self.sender.try_send(Message::Row(Box::new(row))) {
            Ok(()) => true,
            Err(TrySendError::Full(message)) => {
                self.metrics.full_waits.inc();
                let sender = self.sender.clone();
                matches!(actix_web::web::block(move || sender.send(message)).await, Ok(Ok(())))
            }
            Err(TrySendError::Disconnected(_)) => false,
        };
        if !sent {
            self.metrics.depth.dec();
            self.metrics.lost.inc();
            tracing::error!("the audit queue has stopped; an audit row was not written");
        }
    }

    /// Before a write the trail records: the reads queued before it are
    /// written first, so that the trail's order (by id) is the order they
    /// happened in. Costs nothing when none is waiting.
    pub async fn settle(&self) {
        if self.metrics.depth.get() > 0 {
            self.drain().await;
        }
    }

    /// Waits until every row queued before this call is written: the trail
    /// reads what this process has recorded so far.
    pub async fn drain(&self) {
        let queue = self.clone();
        let _ = actix_web::web::block(move || queue.drain_before_exit(Duration::from_secs(10))).await;
    }

    /// [`AuditQueue::drain`] for a stopping server: waits at most `timeout`.
    pub fn drain_before_exit(&self, timeout: Duration) {
        let (done, wait) = sync_channel(1);
        if self.sender.send(Message::Drained(done)).is_ok() {
            self.gatherer.unpark();
            let _ = wait.recv_timeout(timeout);
        }
    }
}

fn serve(db: &Db, receiver: &Receiver<Message>, metrics: &AuditQueueMetrics) {
    // Idle, the thread waits for a first row; then it sleeps out the
    // gathering time (a drain wakes it early) and takes what has queued.
    while let Ok(first) = receiver.recv() {
        let until = Instant::now() + GATHER;
        let mut rows = Vec::new();
        let mut waiting = Vec::new();
        let mut next = Some(first);
        loop {
            while let Some(message) = next.take() {
                match message {
                    Message::Row(row) => rows.push(*row),
                    Message::Drained(done) => waiting.push(done),
                }
                if rows.len() < BATCH {
                    next = receiver.try_recv().ok();
                }
            }
            let now = Instant::now();
            // Someone waits for the rows: whatever has arrived goes now.
            if rows.len() >= BATCH || !waiting.is_empty() || now >= until {
                break;
            }
            std::thread::park_timeout(until - now);
            next = receiver.try_recv().ok();
        }
        let count = rows.len();
        if !rows.is_empty() {
            let started = Instant::now();
            let lost = write(db, rows);
            metrics.batch_duration.observe(started.elapsed().as_secs_f64());
            metrics.lost.inc_by(lost as u64);
        }
        metrics.depth.sub(i64::try_from(count).unwrap_or(i64::MAX));
        for done in waiting {
            let _ = done.send(());
        }
    }
}

/// Writes `rows` in one transaction; tries once more after a second (the
/// database may be restarting), then logs what was lost. Returns how many
/// rows were lost.
///
/// The batch goes in as one multi-row insert; only if it fails is it
/// written again with each row in a savepoint of its own, so one bad row
/// (its actor deleted meanwhile) costs only itself. The usual batch thus
/// costs one statement, not one a row.
fn write(db: &Db, rows: Vec<PendingAudit>) -> usize {
    let count = rows.len();
    let all = rows.clone();
    let written = db.write_blocking(move |conn| {
        without_sync(conn)?;
        let filed = all
            .into_iter()
            .map(|row| row.filed(conn))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(insert_audits(conn, &filed)?)
    });
    if written.is_ok() {
        return 0;
    }
    for attempt in 0..2 {
        let batch = rows.clone();
        let written = db.write_blocking(move |conn| {
            without_sync(conn)?;
            let mut lost = 0;
            for row in batch {
                if let Err(error) = conn.transaction::<_, ApiError, _>(|conn| row.write(conn).map(drop)) {
                    tracing::error!(%error, "an audit row could not be written and is lost");
                    lost += 1;
                }
            }
            Ok(lost)
        });
        match written {
            Ok(lost) => return lost,
            Err(error) if attempt == 0 => {
                tracing::warn!(%error, count, "writing queued audit rows failed; trying again");
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(error) => tracing::error!(%error, count, "queued audit rows could not be written and are lost"),
        }
    }
    count
}

/// On PostgreSQL a batch commits without waiting for the log's sync to
/// the disk. Its rows are ones a crash may lose anyway (see the module's
/// note); waiting for the sync would let a slow one (a checkpoint's writes
/// crowding the disk) stall the writer until the queue is full and reads
/// wait for room. A crash of the database server can now lose the batches
/// of its last moments too (at most three `wal_writer_delay`s, 0.6 s by
/// default); it cannot lose a batch whose rows precede a change's row in
/// the trail, since that change's own commit syncs the log up to itself.
/// SQLite's batches commit as its writer commits everything.
fn without_sync(conn: &mut AnyConnection) -> Result<(), ApiError> {
    use diesel::RunQueryDsl;
    if let AnyConnection::Postgres(c) = conn {
        diesel::sql_query("SET LOCAL synchronous_commit = off").execute(c)?;
    }
    Ok(())
}
