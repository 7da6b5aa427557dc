//! SQLite's one writer: a thread that owns the only connection allowed to
//! write and runs every write transaction the process asks for, in order.
//!
//! SQLite lets one transaction write at a time. With a pool of writers, the
//! others slept in SQLite's busy handler (retrying with growing sleeps),
//! which gave filings a two-second tail under load. Here writers queue in
//! memory instead, and the thread commits what has queued up since its last
//! commit as one transaction (group commit): each request runs in a
//! savepoint of its own, so one request's error rolls back only its own
//! changes, and no answer is given before the commit that holds it is
//! durable. With `synchronous=FULL` a commit costs an fsync; sharing it is
//! what lets filings outrun the disk's fsyncs a second.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::Error as DieselError;

use super::AnyConnection;
use crate::error::ApiError;

/// Writes that may wait for the writer before callers wait to enqueue.
const QUEUE: usize = 1024;
/// Most writes committed together. Bounded so that one commit's latency
/// stays small and a long queue is drained in several commits.
const BATCH: usize = 64;

/// What a queued write gets: the connection inside the batch transaction,
/// or the reason the batch could not begin.
enum Turn<'a> {
    Run(&'a mut AnyConnection),
    Refused(ApiError),
}

/// Delivers a write's result once its batch's commit is known.
type Reply = Box<dyn FnOnce(Option<&DieselError>) + Send>;
type Job = Box<dyn FnOnce(Turn<'_>) -> Option<Reply> + Send>;

/// The handle to the writer thread; clones share it. The thread stops,
/// after the writes already queued, when the last handle is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: SyncSender<Job>,
    depth: Arc<AtomicUsize>,
}

impl Writer {
    /// Starts the writer thread on `conn` (a SQLite connection).
    pub fn start(conn: AnyConnection) -> std::io::Result<Self> {
        let (jobs, queue) = sync_channel(QUEUE);
        let depth = Arc::new(AtomicUsize::new(0));
        let counted = depth.clone();
        std::thread::Builder::new()
            .name("griddesk-writer".into())
            .spawn(move || serve(conn, &queue, &counted))?;
        Ok(Self { jobs, depth })
    }

    /// Writes waiting for the writer now.
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Runs `f` in the writer's next transaction and waits for the commit.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = job(f, move |result| {
            let _ = tx.send(result);
        });
        self.depth.fetch_add(1, Ordering::Relaxed);
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                // A full queue: wait for room on a blocking thread (never on
                // the async workers).
                let jobs = self.jobs.clone();
                let sent = actix_web::web::block(move || jobs.send(job)).await;
                if !matches!(sent, Ok(Ok(()))) {
                    self.depth.fetch_sub(1, Ordering::Relaxed);
                    return Err(ApiError::unavailable("the database writer has stopped"));
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                return Err(ApiError::unavailable("the database writer has stopped"));
            }
        }
        rx.await
            .map_err(|_| ApiError::internal("a write ended without an answer"))?
    }

    /// [`Writer::write`] for code that is not async (the worker's passes,
    /// the CLI): blocks the calling thread.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let job = job(f, move |result| {
            let _ = tx.send(result);
        });
        self.depth.fetch_add(1, Ordering::Relaxed);
        if self.jobs.send(job).is_err() {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            return Err(ApiError::unavailable("the database writer has stopped"));
        }
        rx.recv()
            .map_err(|_| ApiError::internal("a write ended without an answer"))?
    }
}

/// `f` as a queued write that hands its result to `deliver`.
fn job<T, F>(f: F, deliver: impl FnOnce(Result<T, ApiError>) + Send + 'static) -> Job
where
    F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    Box::new(move |turn| match turn {
        Turn::Refused(error) => {
            deliver(Err(error));
            None
        }
        Turn::Run(conn) => {
            let result = in_savepoint(conn, f);
            Some(Box::new(move |commit_error| {
                deliver(match (result, commit_error) {
                    (Err(error), _) => Err(error),
                    (Ok(_), Some(error)) => Err(not_committed(error)),
                    (Ok(value), None) => Ok(value),
                });
            }))
        }
    })
}

/// Runs `f` in a savepoint: released when it returns `Ok`, rolled back when
/// it fails or panics, so the batch's other writes stand either way.
fn in_savepoint<T, F>(conn: &mut AnyConnection, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, ApiError>,
{
    let AnyConnection::Sqlite(c) = &mut *conn else {
        return Err(ApiError::internal("the writer holds a SQLite connection only"));
    };
    AnsiTransactionManager::begin_transaction(c)?;
    let result = catch_unwind(AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(ApiError::internal("a write panicked; its changes were rolled back")));
    let AnyConnection::Sqlite(c) = &mut *conn else {
        return Err(ApiError::internal("the writer holds a SQLite connection only"));
    };
    let end = match &result {
        Ok(_) => AnsiTransactionManager::commit_transaction(c),
        Err(_) => AnsiTransactionManager::rollback_transaction(c),
    };
    match (result, end) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(error)) => Err(error.into()),
        (Err(error), _) => Err(error),
    }
}

fn not_committed(error: &DieselError) -> ApiError {
    ApiError::unavailable(format!("the write transaction did not commit: {error}"))
}

/// The writer thread: takes what has queued, runs it as one transaction,
/// answers, and again, until every handle is gone.
fn serve(mut conn: AnyConnection, queue: &Receiver<Job>, depth: &AtomicUsize) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        depth.fetch_sub(batch.len(), Ordering::Relaxed);
        run_batch(&mut conn, batch);
    }
}

fn run_batch(conn: &mut AnyConnection, batch: Vec<Job>) {
    let AnyConnection::Sqlite(c) = &mut *conn else {
        for job in batch {
            job(Turn::Refused(ApiError::internal(
                "the writer holds a SQLite connection only",
            )));
        }
        return;
    };
    // IMMEDIATE: the write lock up front (another process, such as a CLI
    // command, may hold it; the busy timeout waits for it).
    if let Err(error) = AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE") {
        for job in batch {
            job(Turn::Refused(not_committed(&error)));
        }
        return;
    }
    let replies: Vec<Reply> = batch.into_iter().filter_map(|job| job(Turn::Run(conn))).collect();
    let AnyConnection::Sqlite(c) = &mut *conn else {
        return;
    };
    let committed = AnsiTransactionManager::commit_transaction(c);
    if committed.is_err() {
        // Leave no transaction open for the next batch.
        let _ = AnsiTransactionManager::rollback_transaction(c);
    }
    let error = committed.err();
    for reply in replies {
        reply(error.as_ref());
    }
}
