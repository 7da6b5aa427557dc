//! PostgreSQL's short reads on the request path, pipelined: each
//! HTTP worker thread keeps one connection (diesel-async over
//! tokio-postgres) that every request on the thread shares. A request's
//! statement goes out and the worker serves its other requests while
//! PostgreSQL answers; statements from several requests travel together.
//! Through libpq the worker slept in `poll` for every read: a thread switch
//! out and back in, and one wake-up of PostgreSQL, per request
//! (DEVELOPERS.md, "Measuring").
//!
//! Only where libpq would not encrypt anyway, since this connection has no
//! TLS: a Unix socket, a loopback host, or `sslmode=disable`. Elsewhere,
//! and whenever the connection cannot be had, reads go through
//! [`Db::run`] as before: [`Db::pipelined`] answers `None`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::result::Error;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use tokio_postgres::config::{Host, SslMode};

use super::models::TicketRow;
use super::schema::tickets;
use super::tickets::FrontPage;
use super::{Db, POOL_WAIT, POSTGRES_DEFAULTS, PinnedCaches, url_sets};
use crate::error::ApiError;

/// How to open a worker's pipelined connection to one database, and when
/// to try again after an attempt failed.
pub(super) struct Pipeline {
    config: tokio_postgres::Config,
    retry_at: Mutex<Option<Instant>>,
}

/// After a failed attempt, reads stay on libpq this long before the next
/// (a password only libpq finds, in `PGPASSWORD` or `~/.pgpass`, fails
/// every attempt: one warning a while, not one a request).
const RETRY_AFTER: Duration = Duration::from_secs(30);

enum Slot {
    /// A request on this thread is opening it: the others read through
    /// libpq meanwhile (a burst must not open one connection each).
    Opening,
    Open(Rc<AsyncPgConnection>),
}

thread_local! {
    /// This thread's pipelined connections, by database (`Db::id`).
    static PIPELINES: RefCell<Vec<(u64, Slot)>> = const { RefCell::new(Vec::new()) };
}

/// The pipelined connections' `application_name`, unless the URL sets one.
pub const APPLICATION_NAME: &str = "griddesk-pipelined";

/// Databases a thread keeps a pipelined connection to (tests open many).
const THREAD_PIPELINES: usize = 4;

impl Pipeline {
    /// The pipeline for a PostgreSQL URL, or `None` where it must not or
    /// cannot be used (TLS may be wanted, or tokio-postgres does not read
    /// the URL: it knows fewer options than libpq).
    pub(super) fn for_url(url: &str) -> Option<Self> {
        let mut config: tokio_postgres::Config = match url.parse() {
            Ok(config) => config,
            Err(error) => {
                tracing::info!(%error, "PostgreSQL reads go through libpq: tokio-postgres does not read this URL");
                return None;
            }
        };
        // libpq also reads PGHOST and friends, which tokio-postgres does not.
        let local = !config.get_hosts().is_empty()
            && config.get_hosts().iter().all(|host| match host {
                Host::Unix(_) => true,
                Host::Tcp(name) => is_loopback(name),
            })
            && config.get_hostaddrs().iter().all(std::net::IpAddr::is_loopback);
        match config.get_ssl_mode() {
            SslMode::Disable => {}
            // libpq's default: TLS if the server offers it, which protects
            // nothing on this host's loopback or Unix socket.
            SslMode::Prefer if local => drop(config.ssl_mode(SslMode::Disable)),
            _ => {
                tracing::info!(
                    "PostgreSQL reads go through libpq: the server is not on this host, or TLS is asked for"
                );
                return None;
            }
        }
        // Told apart from the libpq connections in `pg_stat_activity`.
        if !url_sets(url, "application_name") {
            config.application_name(APPLICATION_NAME);
        }
        // libpq's defaults of ours, under tokio-postgres's names.
        for (key, value) in POSTGRES_DEFAULTS {
            let seconds = Duration::from_secs(value);
            match key {
                _ if url_sets(url, key) => {}
                "connect_timeout" => drop(config.connect_timeout(seconds)),
                "keepalives_idle" => drop(config.keepalives_idle(seconds)),
                "keepalives_interval" => drop(config.keepalives_interval(seconds)),
                "keepalives_count" => drop(config.keepalives_retries(u32::try_from(value).unwrap_or(u32::MAX))),
                _ => {}
            }
        }
        Some(Self {
            config,
            retry_at: Mutex::new(None),
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Db {
    /// Runs `read` (a statement or two) on this worker's pipelined connection.
    /// `Ok(None)` when there is none to use (SQLite, a URL that keeps
    /// reads on libpq, a connection being opened by another request on the
    /// thread, or a failed attempt less than [`RETRY_AFTER`] ago) or when
    /// the read failed: the caller then reads through [`Db::run`].
    pub async fn pipelined<T, F, Fut>(&self, read: F) -> Result<Option<T>, ApiError>
    where
        F: FnOnce(Rc<AsyncPgConnection>) -> Fut,
        Fut: Future<Output = QueryResult<T>>,
    {
        let Some(pipeline) = &self.pipeline else {
            return Ok(None);
        };
        let Some(conn) = self.pipeline_connection(pipeline).await else {
            return Ok(None);
        };
        match read(conn.clone()).await {
            Ok(value) => Ok(Some(value)),
            Err(Error::NotFound) => Err(ApiError::NotFound),
            Err(error) => {
                // Whatever failed (a connection the server closed, a
                // statement cut off), the libpq reader reads it again: a
                // read is safe to repeat, and its errors are the ones the
                // API answers with. The requests holding this connection
                // finish with it; the next read opens another.
                tracing::warn!(%error, "a pipelined read failed; reading through libpq");
                self.forget_pipeline(&conn);
                Ok(None)
            }
        }
    }

    async fn pipeline_connection(&self, pipeline: &Pipeline) -> Option<Rc<AsyncPgConnection>> {
        let found = PIPELINES.with(|slots| {
            let mut slots = slots.borrow_mut();
            match slots.iter().find(|(id, _)| *id == self.id) {
                Some((_, Slot::Open(conn))) => Some(Some(conn.clone())),
                Some((_, Slot::Opening)) => Some(None),
                None => {
                    if slots.len() >= THREAD_PIPELINES {
                        slots.remove(0);
                    }
                    slots.push((self.id, Slot::Opening));
                    None
                }
            }
        });
        if let Some(found) = found {
            return found;
        }
        let _mark = OpeningMark(self.id);
        let waiting = pipeline
            .retry_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| Instant::now() < at);
        let opened = if waiting {
            None
        } else {
            match tokio::time::timeout(POOL_WAIT, open(&pipeline.config)).await {
                Ok(Ok(conn)) => Some(Rc::new(conn)),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "a pipelined PostgreSQL connection could not be opened; reading through libpq");
                    None
                }
                Err(_) => {
                    tracing::warn!("opening a pipelined PostgreSQL connection timed out; reading through libpq");
                    None
                }
            }
        };
        if opened.is_none()
            && !waiting
            && let Ok(mut at) = pipeline.retry_at.lock()
        {
            *at = Some(Instant::now() + RETRY_AFTER);
        }
        PIPELINES.with(|slots| {
            let mut slots = slots.borrow_mut();
            slots.retain(|(id, _)| *id != self.id);
            if let Some(conn) = &opened {
                slots.push((self.id, Slot::Open(conn.clone())));
            }
        });
        opened
    }

    fn forget_pipeline(&self, conn: &Rc<AsyncPgConnection>) {
        PIPELINES.with(|slots| {
            slots
                .borrow_mut()
                .retain(|(id, slot)| *id != self.id || !matches!(slot, Slot::Open(open) if Rc::ptr_eq(open, conn)));
        });
    }
}

/// Clears a thread's [`Slot::Opening`] for a database when the request
/// opening its connection ends, done or not: a request whose client hung
/// up mid-way is dropped at an await, and the mark left behind would keep
/// the worker reading through libpq for good.
struct OpeningMark(u64);

impl Drop for OpeningMark {
    fn drop(&mut self) {
        let _ = PIPELINES.try_with(|slots| {
            if let Ok(mut slots) = slots.try_borrow_mut() {
                slots.retain(|(id, slot)| *id != self.0 || !matches!(slot, Slot::Opening));
            }
        });
    }
}

/// A read-only connection whose statements give up after 10 s, like the
/// workers' libpq readers.
async fn open(config: &tokio_postgres::Config) -> Result<AsyncPgConnection, Box<dyn std::error::Error>> {
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    let mut conn = AsyncPgConnection::try_from_client_and_connection(client, connection).await?;
    conn.batch_execute("SET default_transaction_read_only = on; SET statement_timeout = '10s';")
        .await?;
    Ok(conn)
}

/// [`super::find_ticket`], pipelined: the ticket's version, then its row
/// unless `caches` holds it at that version (`db::ticket_rows`; a page of a
/// list holds the rows of the tickets one opens from it).
pub async fn find_ticket(conn: Rc<AsyncPgConnection>, id: i64, caches: PinnedCaches) -> QueryResult<Option<TicketRow>> {
    let mut conn = &*conn;
    let Some(version) = tickets::table
        .find(id)
        .select(tickets::version)
        .first::<i64>(&mut conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let held = caches.ticket_rows();
    if let Some(row) = held.at(&[(id, version)]).pop().flatten() {
        return Ok(Some(Arc::unwrap_or_clone(row)));
    }
    let Some(row) = tickets::table
        .find(id)
        .select(TicketRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let row = Arc::new(row);
    held.keep(std::iter::once(&row));
    Ok(Some(Arc::unwrap_or_clone(row)))
}

/// [`super::tickets::front_page`], pipelined: the page's tickets by id and
/// version, then in one more statement the rows of those `caches` does not
/// hold at that version (`db::ticket_rows`).
pub async fn front_page(
    conn: Rc<AsyncPgConnection>,
    page: FrontPage,
    caches: PinnedCaches,
) -> QueryResult<Vec<TicketRow>> {
    let mut conn = &*conn;
    let keep = page.keep;
    let mut listed: Vec<(i64, i64)> = page.versions().load(&mut conn).await?;
    listed.truncate(keep);
    let held = caches.ticket_rows();
    let mut rows = held.at(&listed);
    let missing: Vec<i64> = listed
        .iter()
        .zip(&rows)
        .filter(|(_, row)| row.is_none())
        .map(|((id, _), _)| *id)
        .collect();
    if !missing.is_empty() {
        let loaded: HashMap<i64, Arc<TicketRow>> = tickets::table
            .filter(tickets::id.eq_any(&missing))
            .select(TicketRow::as_select())
            .load(&mut conn)
            .await?
            .into_iter()
            .map(|row: TicketRow| (row.id, Arc::new(row)))
            .collect();
        held.keep(loaded.values());
        for ((id, _), row) in listed.iter().zip(rows.iter_mut()) {
            if row.is_none() {
                *row = loaded.get(id).cloned();
            }
        }
    }
    // A ticket is never deleted, so every listed one has its row.
    Ok(rows.into_iter().flatten().map(Arc::unwrap_or_clone).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipelined(url: &str) -> bool {
        Pipeline::for_url(url).is_some()
    }

    #[test]
    fn only_servers_on_this_host_or_without_tls_are_read_through_the_pipeline() {
        assert!(pipelined("postgres://app@127.0.0.1:5432/griddesk"));
        assert!(pipelined("postgresql://app@localhost/griddesk"));
        assert!(pipelined("postgres://app@[::1]:5432/griddesk"));
        assert!(pipelined("postgres://app@/griddesk?host=/run/postgresql"));
        assert!(pipelined("postgres://app@db.internal/griddesk?sslmode=disable"));
        // TLS asked for, or possible on a network: libpq.
        assert!(!pipelined("postgres://app@db.internal/griddesk"));
        assert!(!pipelined("postgres://app@db.internal/griddesk?sslmode=prefer"));
        assert!(!pipelined("postgres://app@127.0.0.1/griddesk?sslmode=require"));
        assert!(!pipelined("postgres://app@10.0.0.5/griddesk?hostaddr=127.0.0.1"));
        // No host (libpq would take PGHOST), or an option only libpq reads.
        assert!(!pipelined("postgres:///griddesk"));
        assert!(!pipelined("postgres://app@127.0.0.1/griddesk?keepalives_count=3"));
    }
}
