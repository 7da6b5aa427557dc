//! Database access: one connection type for SQLite and PostgreSQL, the pool,
//! embedded migrations, and the row structs and queries per table.

pub mod attempts;
pub mod audit;
pub mod mediation;
pub mod models;
pub mod queries;
pub mod schema;
pub mod stats;
pub mod tickets;

use std::fmt;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::ApiError;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection type for both databases; queries are written once.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

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

/// r2d2 manager that opens the variant the URL names and prepares SQLite
/// connections (busy timeout first, then foreign keys and durable commits).
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(AnyConnection::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
                    .map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
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

/// The database handle kept in the app state. Calls run on actix's blocking
/// thread pool, never on the async workers.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: &'static str,
}

impl Db {
    /// Opens the pool, sets SQLite to WAL once, and applies pending migrations.
    pub fn connect(url: &DatabaseUrl, max_size: u32) -> Result<Self, StartupError> {
        let connect_error = |error: &dyn fmt::Display| StartupError::Connect {
            url: url.redacted(),
            reason: one_line(error),
        };
        // Open one connection directly first: r2d2 retries until its timeout
        // and then reports only "timed out", hiding the real cause.
        let manager = ConnectionManager { url: url.clone() };
        let mut first = manager.connect().map_err(|e| connect_error(&e))?;
        if let AnyConnection::Sqlite(conn) = &mut first {
            conn.batch_execute("PRAGMA journal_mode = WAL;")
                .map_err(|e| connect_error(&e))?;
        }
        run_migrations(&mut first).map_err(|e| StartupError::Migrate(one_line(&e)))?;
        tickets::search::backfill(&mut first).map_err(|e| StartupError::Migrate(one_line(&e)))?;
        drop(first);

        let pool = Pool::builder()
            .max_size(max_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| connect_error(&e))?;
        Ok(Self {
            pool,
            backend: url.backend_name(),
        })
    }

    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// A connection for synchronous code (CLI commands, the demo loader).
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

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get().map_err(ApiError::unavailable)?;
            f(&mut conn)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` inside one write transaction: committed when it returns `Ok`,
    /// rolled back otherwise.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |conn| write_transaction(conn, f)).await
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
    let result = f(conn);
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
    fn postgres_passwords_are_redacted() {
        let url = DatabaseUrl::Postgres("postgres://grid:secret@db:5432/griddesk".into());
        assert_eq!(url.redacted(), "postgres://grid:***@db:5432/griddesk");
        assert!(!format!("{url:?}").contains("secret"));
    }
}
