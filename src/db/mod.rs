//! Database access: one connection type for SQLite and PostgreSQL, the pool,
//! embedded migrations, and the row structs and queries per table.

pub mod attempts;
pub mod audit;
pub mod audit_queue;
pub mod batch;
pub mod breaches;
pub mod category_cache;
pub mod devices;
pub mod fragment;
pub mod in_ids;
pub mod mediation;
pub mod models;
pub mod notifications;
pub mod pipeline;
pub mod queries;
pub mod row_cache;
pub mod schema;
pub mod stamp;
pub mod stats;
pub mod ticket_rows;
pub mod tickets;
pub mod version_cache;
pub mod webhooks;
pub mod write_audit;
pub mod writer;

/// What readers remember between requests, each bounded and documented in
/// its module: the category catalogue and the deadline rules (which filing
/// reads too), the grid's units, the reporters, and
/// by ticket version the units each ticket has been at, a dispute's
/// parties and (for pages of unfiltered lists on PostgreSQL) the tickets'
/// own rows. Used through [`ReadCaches::pin`].
#[derive(Default)]
pub struct ReadCaches {
    pub categories: category_cache::CategoryCache,
    pub deadline_rules: category_cache::Snapshot<Vec<models::SlaRuleRow>>,
    pub units: row_cache::RowCache<models::UnitPlaceRow>,
    pub reporters: row_cache::RowCache<models::ReporterRow>,
    pub visits: version_cache::VersionCache<i64>,
    pub parties: version_cache::VersionCache<models::PartyRow>,
    pub tickets: ticket_rows::TicketRows,
}

impl ReadCaches {
    /// The caches for one read, taken before its transaction begins: what
    /// the read loads is kept only if no write forgot that cache since, so a
    /// read that began before a change never puts the old rows back after it.
    pub fn pin(self: &Arc<Self>) -> PinnedCaches {
        PinnedCaches {
            categories_since: self.categories.generation(),
            deadline_rules_since: self.deadline_rules.generation(),
            units_since: self.units.generation(),
            reporters_since: self.reporters.generation(),
            caches: self.clone(),
        }
    }
}

/// [`ReadCaches`] as one read uses them ([`ReadCaches::pin`]).
#[derive(Clone)]
pub struct PinnedCaches {
    caches: Arc<ReadCaches>,
    categories_since: u64,
    deadline_rules_since: u64,
    units_since: u64,
    reporters_since: u64,
}

impl PinnedCaches {
    /// Caches holding nothing, for a writer outside requests (the demo):
    /// each use reads what it needs.
    pub fn empty() -> Self {
        Arc::new(ReadCaches::default()).pin()
    }

    /// Tickets' rows by version (exact, so not pinned).
    pub fn ticket_rows(&self) -> &ticket_rows::TicketRows {
        &self.caches.tickets
    }

    /// The catalogue, holding at least the categories `ids`.
    pub fn categories(&self, conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<category_cache::Catalogue> {
        self.caches.categories.with(conn, ids, self.categories_since)
    }

    /// The category with this code, active or not.
    pub fn category_by_code(&self, conn: &mut AnyConnection, code: &str) -> QueryResult<Option<models::CategoryRow>> {
        self.caches.categories.by_code(conn, code, self.categories_since)
    }

    /// Every deadline rule (`sla_rules`), in id order.
    pub fn deadline_rules(&self, conn: &mut AnyConnection) -> QueryResult<Arc<Vec<models::SlaRuleRow>>> {
        self.caches
            .deadline_rules
            .get(conn, self.deadline_rules_since, tickets::sla_rules)
    }

    /// The units `ids`, as tickets show them.
    pub fn units(&self, conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<HashMap<i64, Arc<models::UnitPlaceRow>>> {
        self.caches
            .units
            .rows(conn, ids, self.units_since, tickets::units_by_ids)
    }

    /// The reporters `ids`, as tickets show them.
    pub fn reporters(
        &self,
        conn: &mut AnyConnection,
        ids: &[i64],
    ) -> QueryResult<HashMap<i64, Arc<models::ReporterRow>>> {
        self.caches
            .reporters
            .rows(conn, ids, self.reporters_since, tickets::reporters_by_ids)
    }

    /// The units each ticket (id, version) has been at.
    pub fn visits(&self, conn: &mut AnyConnection, tickets: &[(i64, i64)]) -> QueryResult<HashMap<i64, Arc<[i64]>>> {
        self.caches.visits.of(conn, tickets, tickets::visited_unit_ids)
    }

    /// The parties of each dispute (id, version), in the order they were
    /// added.
    pub fn parties(
        &self,
        conn: &mut AnyConnection,
        disputes: &[(i64, i64)],
    ) -> QueryResult<HashMap<i64, Arc<[models::PartyRow]>>> {
        self.caches.parties.of(conn, disputes, |conn, ids| {
            Ok(tickets::parties_of(conn, ids)?
                .into_iter()
                .map(|p| (p.ticket_id, p))
                .collect())
        })
    }
}

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::ApiError;
pub use writer::Writer;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection type for both databases; queries are written once.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the backend's own connection: the query
/// in it is built, bound and cached by that backend directly. Through
/// [`AnyConnection`] diesel writes a query's whole SQL text twice on every
/// execution (once to learn whether it may be cached, once to bind it), even
/// when its statement is cached: 11% of the CPU of reading one ticket. For
/// the queries on every request's path; the others stay written once.
macro_rules! each_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite($c) => $body,
            $crate::db::AnyConnection::Postgres($c) => $body,
        }
    };
}
pub(crate) use each_backend;

/// Which database a `DATABASE_URL` names; chosen by scheme, never by trial.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("DATABASE_URL is empty")]
    Empty,
    #[error(
        "DATABASE_URL scheme `{0}` is not supported (use a file path, sqlite://PATH, postgres:// or postgresql://)"
    )]
    UnsupportedScheme(String),
    #[error("DATABASE_URL `sqlite://` names no file")]
    MissingSqlitePath,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, DatabaseUrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        if let Some(path) = raw.strip_prefix("sqlite://").or_else(|| raw.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(DatabaseUrlError::MissingSqlitePath);
            }
            return Ok(Self::Sqlite(path.to_owned()));
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            return Err(DatabaseUrlError::UnsupportedScheme(scheme.to_owned()));
        }
        Ok(Self::Sqlite(raw.to_owned()))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgresql",
            Self::Sqlite(_) => "sqlite",
        }
    }
}

/// libpq settings every PostgreSQL connection gets unless its URL sets them:
/// a connection attempt gives up after 10 s, and a server that stops
/// answering (a cut network, a host gone) is noticed after about 20 s of
/// silence instead of the system's two hours of keepalive. A short read
/// waits on its worker ([`Db::run`]), so this bounds how long one can hold
/// up the worker's other requests.
const POSTGRES_DEFAULTS: [(&str, u64); 4] = [
    ("connect_timeout", 10),
    ("keepalives_idle", 10),
    ("keepalives_interval", 5),
    ("keepalives_count", 2),
];

/// Whether a PostgreSQL URL sets the option `key` in its query.
fn url_sets(url: &str, key: &str) -> bool {
    url.split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|pair| pair.split('=').next() == Some(key)))
}

/// `url` with each of [`POSTGRES_DEFAULTS`] it does not set.
fn with_postgres_defaults(url: &str) -> String {
    let mut url = url.to_owned();
    for (key, value) in POSTGRES_DEFAULTS {
        if !url_sets(&url, key) {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("{key}={value}"));
        }
    }
    url
}

/// Never print a PostgreSQL password.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{path}"),
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    let userinfo = &url[scheme_end + 3..at];
                    let user = userinfo.split(':').next().unwrap_or_default();
                    format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
                }
                _ => url.clone(),
            },
        }
    }
}

/// How SQLite makes a commit durable (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Synchronous {
    /// Every commit is synced to the disk before it is answered: an
    /// acknowledged change survives a power cut. The default.
    #[default]
    Full,
    /// The write-ahead log is synced at checkpoints only: a power cut (not
    /// a crash of the process) can lose the last commits acknowledged.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "PRAGMA synchronous = FULL;",
            Self::Normal => "PRAGMA synchronous = NORMAL;",
        }
    }
}

/// How the database is opened.
#[derive(Debug, Clone, Copy)]
pub struct DbSettings {
    /// Largest pool (on SQLite, of readers: at most two a core).
    pub pool_size: u32,
    pub sqlite_synchronous: Synchronous,
}

impl From<u32> for DbSettings {
    fn from(pool_size: u32) -> Self {
        Self {
            pool_size,
            sqlite_synchronous: Synchronous::Full,
        }
    }
}

/// r2d2 manager that opens the variant the URL names and prepares SQLite
/// connections (busy timeout first, then foreign keys and durable commits).
/// A reader is opened read-only (SQLite's `query_only`, PostgreSQL's
/// `default_transaction_read_only`): on SQLite every write goes to the one
/// writer, on PostgreSQL to the pool, and a write sent to a reader by
/// mistake fails loudly.
pub struct ConnectionManager {
    url: DatabaseUrl,
    reader: bool,
    synchronous: Synchronous,
}

impl ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        let mut conn = self.open()?;
        conn.set_instrumentation(Liveness::default());
        Ok(conn)
    }

    /// Asks the database only about a connection that has been idle: one
    /// that answered a moment ago is taken as it is (a round trip per
    /// checkout was a twentieth of a filing's statements on PostgreSQL).
    /// One that the database closed since is dropped when it comes back
    /// ([`ManageConnection::has_broken`]).
    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        let recent = conn
            .instrumentation()
            .downcast_ref::<Liveness>()
            .and_then(|l| l.last_answer)
            .is_some_and(|at| at.elapsed() < TRUSTED_FOR);
        if recent {
            return Ok(());
        }
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        conn.instrumentation()
            .downcast_ref::<Liveness>()
            .is_some_and(|l| l.lost)
            || conn.is_broken()
    }
}

/// How long a connection that answered is trusted without asking again.
const TRUSTED_FOR: Duration = Duration::from_secs(2);

/// What the pool needs to know of a connection's last queries: when it last
/// answered, and whether a query found it closed (the server restarted, the
/// network dropped). Kept by diesel's instrumentation hook, which sees
/// every query's outcome.
#[derive(Default)]
struct Liveness {
    last_answer: Option<std::time::Instant>,
    lost: bool,
}

impl diesel::connection::Instrumentation for Liveness {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::result::{DatabaseErrorKind, Error};
        if let diesel::connection::InstrumentationEvent::FinishQuery { error, .. } = event {
            match error {
                None => self.last_answer = Some(std::time::Instant::now()),
                Some(Error::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                )) => self.lost = true,
                Some(_) => {}
            }
        }
    }
}

impl ConnectionManager {
    fn open(&self) -> Result<AnyConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn =
                    PgConnection::establish(&with_postgres_defaults(url)).map_err(r2d2::Error::ConnectionError)?;
                if self.reader {
                    // A worker's short read never runs for long: bounded, so
                    // a pathological one cannot hold up the worker's other
                    // requests for more than the pool's wait.
                    conn.batch_execute("SET default_transaction_read_only = on; SET statement_timeout = '10s';")
                        .map_err(r2d2::Error::QueryError)?;
                }
                Ok(AnyConnection::Postgres(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                    .map_err(r2d2::Error::QueryError)?;
                conn.batch_execute(self.synchronous.pragma())
                    .map_err(r2d2::Error::QueryError)?;
                if self.reader {
                    conn.batch_execute("PRAGMA query_only = ON;")
                        .map_err(r2d2::Error::QueryError)?;
                }
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

pub type DbPool = Pool<ConnectionManager>;
pub type DbConn = PooledConnection<ConnectionManager>;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot apply migrations: {0}")]
    Migrate(String),
}

/// Drivers (libpq above all) report over several lines; start-up errors are
/// printed as one.
fn one_line(error: &dyn fmt::Display) -> String {
    error.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The database handle kept in the app state. Short reads run on the async
/// worker that got the request, with the worker's own read-only connection
/// ([`Db::run`]); long reads and PostgreSQL's writes on actix's blocking
/// thread pool, with a pooled connection.
///
/// PostgreSQL: one pool for writes and long reads. SQLite, which lets one
/// transaction write at a time: a pool of read-only connections sized to
/// the cores, and one [`Writer`] that runs every write transaction.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    /// One permit per pooled connection, handed out in the order asked
    /// ([`Db::run_long`]). r2d2 wakes a waiter when a connection comes
    /// back, but a thread arriving just then may take it first: under a
    /// burst, some requests lost that race again and again (PostgreSQL
    /// reads at 32 connections had p99s of 65-890 ms, p50 1-3 ms).
    gate: Arc<tokio::sync::Semaphore>,
    writer: Option<Writer>,
    url: DatabaseUrl,
    synchronous: Synchronous,
    /// Names this database among the thread's own readers ([`Db::run`]).
    id: u64,
    /// PostgreSQL: how the workers open their pipelined readers
    /// ([`Db::pipelined`]), where they may.
    pipeline: Option<Arc<pipeline::Pipeline>>,
}

/// Numbers the databases a process opens (tests open many), so a thread's
/// own readers are kept apart.
static NEXT_DB_ID: AtomicU64 = AtomicU64::new(1);

/// Databases a thread keeps its own reader for; the oldest is closed first.
const THREAD_READERS: usize = 4;

thread_local! {
    /// This thread's own readers, by database ([`Db::run`]).
    static THREAD_READER: RefCell<Vec<(u64, AnyConnection)>> = const { RefCell::new(Vec::new()) };
}

/// How long a request waits for a database connection before 503.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// SQLite readers per core: reads are short and CPU-bound, and a second one
/// per core covers a reader waiting on the disk.
const SQLITE_READERS_PER_CORE: u32 = 2;

impl Db {
    /// Opens the pool, sets SQLite to WAL once, and applies pending migrations.
    /// `max_size` bounds the pool (on SQLite, the readers: at most two a core).
    pub fn connect(url: &DatabaseUrl, settings: impl Into<DbSettings>) -> Result<Self, StartupError> {
        let DbSettings {
            pool_size: max_size,
            sqlite_synchronous: synchronous,
        } = settings.into();
        let connect_error = |error: &dyn fmt::Display| StartupError::Connect {
            url: url.redacted(),
            reason: one_line(error),
        };
        // Open one connection directly first: r2d2 retries until its timeout
        // and then reports only "timed out", hiding the real cause.
        let writable = ConnectionManager {
            url: url.clone(),
            reader: false,
            synchronous,
        };
        let mut first = writable.connect().map_err(|e| connect_error(&e))?;
        if let AnyConnection::Sqlite(conn) = &mut first {
            conn.batch_execute("PRAGMA journal_mode = WAL;")
                .map_err(|e| connect_error(&e))?;
        }
        run_migrations(&mut first).map_err(|e| StartupError::Migrate(one_line(&e)))?;
        tickets::search::backfill(&mut first).map_err(|e| StartupError::Migrate(one_line(&e)))?;

        let (writer, max_size) = match url {
            DatabaseUrl::Postgres(_) => {
                drop(first);
                (None, max_size)
            }
            DatabaseUrl::Sqlite(_) => {
                let cores = std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1));
                let writer = Writer::start(first).map_err(|e| connect_error(&e))?;
                (Some(writer), max_size.min(SQLITE_READERS_PER_CORE * cores).max(1))
            }
        };
        let manager = ConnectionManager {
            url: url.clone(),
            reader: writer.is_some(),
            synchronous,
        };
        let pool = Pool::builder()
            .max_size(max_size)
            .min_idle(Some(1))
            .connection_timeout(POOL_WAIT)
            .build(manager)
            .map_err(|e| connect_error(&e))?;
        Ok(Self {
            gate: Arc::new(tokio::sync::Semaphore::new(max_size as usize)),
            pool,
            writer,
            url: url.clone(),
            synchronous,
            id: NEXT_DB_ID.fetch_add(1, Ordering::Relaxed),
            pipeline: match url {
                DatabaseUrl::Postgres(url) => pipeline::Pipeline::for_url(url).map(Arc::new),
                DatabaseUrl::Sqlite(_) => None,
            },
        })
    }

    /// Whether one-statement reads may go over the workers' pipelined
    /// connections ([`Db::pipelined`]).
    pub fn pipelines(&self) -> bool {
        self.pipeline.is_some()
    }

    pub fn backend(&self) -> &'static str {
        self.url.backend_name()
    }

    /// One writable connection outside the pool and the writer, prepared
    /// like theirs, for maintenance (reverting a migration in a test). On
    /// SQLite it takes the write lock in turn with the writer, through the
    /// busy timeout; requests never use it.
    pub fn maintenance_connection(&self) -> Result<AnyConnection, ApiError> {
        ConnectionManager {
            url: self.url.clone(),
            reader: false,
            synchronous: self.synchronous,
        }
        .connect()
        .map_err(ApiError::unavailable)
    }

    /// Connections the (reading) pool holds at most.
    pub fn pool_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// Writes waiting for SQLite's writer (always 0 on PostgreSQL).
    pub fn writer_queue_depth(&self) -> usize {
        self.writer.as_ref().map_or(0, Writer::depth)
    }

    /// A connection for synchronous code that reads (on SQLite it cannot
    /// write: use [`Db::write_blocking`]).
    pub fn conn(&self) -> Result<DbConn, ApiError> {
        self.pool.get().map_err(ApiError::unavailable)
    }

    /// Whether the database answers within a couple of seconds (readiness).
    pub async fn ping(&self) -> bool {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get_timeout(Duration::from_secs(2)).ok()?;
            conn.batch_execute("SELECT 1").ok()
        })
        .await
        .ok()
        .flatten()
        .is_some()
    }

    /// Runs `f`, a short read (one page, one object: what an index
    /// answers), right here on the async worker that got the request, with
    /// the thread's own read-only connection. Handing a read of a few
    /// hundred microseconds to the blocking pool and back (two thread
    /// switches) cost more than the read: on PostgreSQL, where a read also
    /// waits on the server, a ticket took 55-63 µs of the server's CPU that
    /// way and 43 µs here (DEVELOPERS.md). Reads that may take long
    /// (statistics, exports, the audit trail) use [`Db::run_long`], so one
    /// of them never holds up a worker's other requests.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        if self.writer.is_none() && !self.holds_live_thread_reader() {
            // A PostgreSQL server may be slow to answer a new connection (or
            // not answer at all): it is opened on the blocking pool, never
            // on the worker. The worker stays on this thread across the await.
            let manager = self.reader_manager();
            let conn = actix_web::web::block(move || manager.connect())
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::unavailable)?;
            self.keep_thread_reader(conn);
        }
        self.read_here(f)
    }

    /// Runs `f`, which only reads, with a pooled connection on the blocking
    /// thread pool.
    pub async fn run_long<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let permit = tokio::time::timeout(POOL_WAIT, self.gate.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::unavailable("no database connection came free in time"))?
            .map_err(ApiError::internal)?;
        actix_web::web::block(move || {
            // Held until the connection is back in the pool, even when the
            // request that asked has gone.
            let _permit = permit;
            let mut conn = pool.get().map_err(ApiError::unavailable)?;
            f(&mut conn)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Whether this thread holds a reader of this database that can still
    /// be used, asked the way the pool asks ([`ManageConnection::is_valid`]:
    /// only when it has not answered for a while). One the database closed
    /// is dropped here, so no request is handed it.
    fn holds_live_thread_reader(&self) -> bool {
        THREAD_READER.with(|readers| {
            let Ok(mut readers) = readers.try_borrow_mut() else {
                return true; // read_here falls back to the pool
            };
            let Some(at) = readers.iter().position(|(id, _)| *id == self.id) else {
                return false;
            };
            let manager = self.reader_manager();
            let conn = &mut readers[at].1;
            if !manager.has_broken(conn) && manager.is_valid(conn).is_ok() {
                return true;
            }
            readers.remove(at);
            false
        })
    }

    /// Keeps `conn` as this thread's reader of this database, unless another
    /// request on the thread opened one meanwhile.
    fn keep_thread_reader(&self, conn: AnyConnection) {
        THREAD_READER.with(|readers| {
            if let Ok(mut readers) = readers.try_borrow_mut()
                && !readers.iter().any(|(id, _)| *id == self.id)
            {
                if readers.len() >= THREAD_READERS {
                    readers.remove(0);
                }
                readers.push((self.id, conn));
            }
        });
    }

    /// Runs `f` on this thread's own reader of this database, opening it
    /// the first time (a SQLite file opens at once), in one read
    /// transaction on SQLite. A panic is an error, as on the blocking pool,
    /// and closes the reader; so does an internal or unavailable error (a
    /// connection that may be broken is not kept).
    fn read_here<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError>,
    {
        THREAD_READER.with(|readers| {
            let Ok(mut readers) = readers.try_borrow_mut() else {
                // A read inside a read on this thread (not done today): a
                // pooled connection keeps it correct.
                return f(&mut *self.conn()?);
            };
            let at = match readers.iter().position(|(id, _)| *id == self.id) {
                Some(at) => at,
                None => {
                    let conn = self.reader_manager().connect().map_err(ApiError::unavailable)?;
                    if readers.len() >= THREAD_READERS {
                        readers.remove(0);
                    }
                    readers.push((self.id, conn));
                    readers.len() - 1
                }
            };
            // On SQLite one read transaction for the whole request: its
            // queries see one snapshot, and SQLite takes its shared lock once,
            // not per query.
            let outcome = catch_unwind(AssertUnwindSafe(|| read_transaction(&mut readers[at].1, f)));
            match outcome {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(error)) => {
                    if matches!(error, ApiError::Internal | ApiError::Unavailable) {
                        readers.remove(at);
                    }
                    Err(error)
                }
                Err(_) => {
                    readers.remove(at);
                    Err(ApiError::internal("a read panicked"))
                }
            }
        })
    }

    fn reader_manager(&self) -> ConnectionManager {
        ConnectionManager {
            url: self.url.clone(),
            reader: true,
            synchronous: self.synchronous,
        }
    }

    /// Runs `f` inside one write transaction: committed when it returns `Ok`,
    /// rolled back otherwise. Answers once the commit is durable.
    ///
    /// In a request whose change the audit trail records, the first write
    /// that succeeds also appends the request's audit row, in the same
    /// transaction (`write_audit`): both commit, or neither.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        match write_audit::claim() {
            None => self.write_unaudited(f).await,
            Some(row) => {
                let written = self.write_unaudited(move |conn| write_audit::carry(conn, row, f)).await;
                write_audit::settle(written)
            }
        }
    }

    /// [`Db::write`] for a write that is not the request's change and never
    /// carries its audit row: bookkeeping such as the attempts counted by
    /// `limits`, and the audit trail's own rows.
    pub async fn write_unaudited<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.write(f).await,
            // On the blocking pool: a write may wait for another's row lock.
            None => self.run_long(move |conn| write_transaction(conn, f)).await,
        }
    }

    /// [`Db::write`] for synchronous code (the worker, CLI commands, tests'
    /// set-up): blocks the calling thread until the commit. Runs outside any
    /// request, so it carries no audit row.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.write_blocking(f),
            None => write_transaction(&mut *self.conn()?, f),
        }
    }

    /// Each pool's connections and idle connections, by name, for the
    /// metrics (read at scrape time): `main` on PostgreSQL; on SQLite
    /// `readers` (the writer's one connection is not pooled: its queue
    /// depth is [`Db::writer_queue_depth`]).
    pub fn pool_status(&self) -> Vec<(&'static str, r2d2::State)> {
        let name = if self.writer.is_some() { "readers" } else { "main" };
        vec![(name, self.pool.state())]
    }
}

/// A write transaction. SQLite starts it with `BEGIN IMMEDIATE`, taking the
/// write lock up front: a deferred transaction that reads and then writes
/// fails at once with "database is locked" when another writer got in between.
pub fn write_transaction<T, F>(conn: &mut AnyConnection, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, ApiError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        AnyConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        AnyConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    // Writes `f` defers (PostgreSQL) are sent before the commit at the
    // latest, and dropped with a rollback.
    let deferring = batch::Deferring::open(conn);
    let result = f(conn).and_then(|value| match &deferring {
        Some(deferring) => Ok(deferring.flush(conn).map(|()| value)?),
        None => Ok(value),
    });
    drop(deferring);
    let end = match (&result, &mut *conn) {
        (Ok(_), AnyConnection::Sqlite(c)) => AnsiTransactionManager::commit_transaction(c),
        (Ok(_), AnyConnection::Postgres(c)) => AnsiTransactionManager::commit_transaction(c),
        (Err(_), AnyConnection::Sqlite(c)) => AnsiTransactionManager::rollback_transaction(c),
        (Err(_), AnyConnection::Postgres(c)) => AnsiTransactionManager::rollback_transaction(c),
    };
    match (result, end) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(e), _) => Err(e),
    }
}

pub fn run_migrations(conn: &mut AnyConnection) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match conn {
        AnyConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop),
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(drop),
    }
}

/// `f` in one read transaction on SQLite: `BEGIN`, `COMMIT` and `ROLLBACK`
/// as statements the connection prepares once (diesel's transaction manager
/// sends each as new text, parsed every time: 3-4% of a page of tickets).
/// Nothing inside a read opens a transaction of its own on SQLite. On
/// PostgreSQL none: each statement sees the latest commit, as on the pool
/// (a transaction would cost two more round trips a request).
fn read_transaction<T, F>(conn: &mut AnyConnection, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, ApiError>,
{
    let AnyConnection::Sqlite(sqlite) = conn else {
        return f(conn);
    };
    Verb::Begin.execute(sqlite)?;
    let outcome = f(conn);
    let AnyConnection::Sqlite(sqlite) = conn else {
        return Err(ApiError::internal("a SQLite connection changed its kind"));
    };
    let end = if outcome.is_ok() { Verb::Commit } else { Verb::Rollback };
    // A transaction that cannot end leaves the connection unusable: an
    // internal error, which closes the reader.
    end.execute(sqlite).map_err(ApiError::internal)?;
    outcome
}

/// A transaction statement, one prepared statement per verb and connection.
#[derive(Debug, Clone, Copy)]
enum Verb {
    Begin,
    Commit,
    Rollback,
}

impl diesel::query_builder::QueryId for Verb {
    type QueryId = ();
    // The text depends on the value: cached by its text, not its type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for Verb {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        out.push_sql(match self {
            Verb::Begin => "BEGIN",
            Verb::Commit => "COMMIT",
            Verb::Rollback => "ROLLBACK",
        });
        Ok(())
    }
}

impl RunQueryDsl<SqliteConnection> for Verb {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend_by_scheme() {
        assert_eq!(
            DatabaseUrl::parse("griddesk.db"),
            Ok(DatabaseUrl::Sqlite("griddesk.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/griddesk.db"),
            Ok(DatabaseUrl::Sqlite("/var/lib/griddesk.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u:p@127.0.0.1/db"),
            Ok(DatabaseUrl::Postgres("postgres://u:p@127.0.0.1/db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://127.0.0.1/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert_eq!(
            DatabaseUrl::parse("mysql://x"),
            Err(DatabaseUrlError::UnsupportedScheme("mysql".into()))
        );
        assert_eq!(DatabaseUrl::parse("  "), Err(DatabaseUrlError::Empty));
        assert_eq!(
            DatabaseUrl::parse("sqlite://"),
            Err(DatabaseUrlError::MissingSqlitePath)
        );
    }

    #[test]
    fn postgres_connections_get_timeouts_the_url_does_not_set() {
        assert_eq!(
            with_postgres_defaults("postgres://u@db/griddesk"),
            "postgres://u@db/griddesk?connect_timeout=10&keepalives_idle=10&keepalives_interval=5&keepalives_count=2"
        );
        assert_eq!(
            with_postgres_defaults("postgres://u@db/griddesk?sslmode=require&keepalives_idle=60&connect_timeout=3"),
            "postgres://u@db/griddesk?sslmode=require&keepalives_idle=60&connect_timeout=3&keepalives_interval=5&keepalives_count=2"
        );
    }

    #[test]
    fn postgres_passwords_are_redacted() {
        let url = DatabaseUrl::Postgres("postgres://grid:secret@db:5432/griddesk".into());
        assert_eq!(url.redacted(), "postgres://grid:***@db:5432/griddesk");
        assert!(!format!("{url:?}").contains("secret"));
    }
}
