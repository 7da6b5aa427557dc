//! Writes that need not wait for one another, sent to PostgreSQL as one
//! statement.
//!
//! A filing is a dozen small statements, and on PostgreSQL each cost both
//! processes a round trip (a send, a receive, a wake-up on each side) that
//! took more CPU than the write itself: under load, a third of the server's
//! and of PostgreSQL's samples were in the kernel. [`With`] puts writes
//! whose results nothing reads in front of a statement as data-modifying
//! `WITH` clauses. PostgreSQL runs each exactly once, to completion, whether
//! or not the statement reads it; all of them see the statement's snapshot
//! (so none may depend on another's rows), and their triggers and key
//! checks run at its end, as they would have one after the other. An error
//! in any of them fails the statement, and the transaction with it.
//!
//! A write can also wait for a later statement of its transaction
//! ([`defer`]): a filing's rows after the ticket's own go in front of the
//! change's audit row, so the filing is five round trips (`BEGIN`, the
//! reporter, the ticket, the rest, `COMMIT`) where it was seven.
//!
//! SQLite has no data-modifying `WITH` and no round trips: its callers run
//! the same writes one after the other, and nothing waits.

use std::cell::RefCell;

use diesel::QueryResult;
use diesel::pg::{Pg, PgConnection};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::sqlite::Sqlite;

use super::AnyConnection;

/// A write either backend runs, and PostgreSQL can put before another
/// statement: what the functions building one return.
pub trait Write: QueryFragment<Pg> + QueryFragment<Sqlite> + QueryId {}

impl<T: QueryFragment<Pg> + QueryFragment<Sqlite> + QueryId> Write for T {}

/// Runs `write` alone, on either backend.
pub fn execute(conn: &mut AnyConnection, write: impl Write) -> QueryResult<usize> {
    match conn {
        AnyConnection::Postgres(c) => ExecuteDsl::execute(write, c),
        AnyConnection::Sqlite(c) => ExecuteDsl::execute(write, c),
    }
}

thread_local! {
    /// Writes of the current PostgreSQL write transaction that wait for a
    /// later statement ([`defer`]). `None` while no write transaction is
    /// open on this thread (one runs at a time on a thread).
    static DEFERRED: RefCell<Option<Vec<Box<dyn QueryFragment<Pg>>>>> = const { RefCell::new(None) };
}

/// When a write whose result nothing reads is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Now, as a statement of its own (or in front of the caller's next one).
    Now,
    /// On PostgreSQL, in front of the transaction's next statement that takes
    /// deferred writes, at the latest just before the commit: see [`defer`].
    Deferred,
}

/// Runs `write` now on SQLite, or outside a write transaction. Inside a
/// PostgreSQL write transaction it waits, and goes in front of the next
/// statement built with [`With::deferred`] (the audit row of the change),
/// else in one statement just before the commit ([`Deferring::flush`]): a filing's
/// visit, search entry, first event, notifications and webhook deliveries
/// then cost no round trip of their own.
///
/// For writes whose rows nothing in the transaction reads until then, and
/// whose order among themselves does not matter (a statement runs its
/// `WITH` clauses in no set order). A failure surfaces at that later
/// statement and fails the transaction, as it would have at once.
pub fn defer(conn: &mut AnyConnection, write: impl Write + 'static) -> QueryResult<()> {
    match conn {
        AnyConnection::Postgres(c) => defer_postgres(c, write),
        AnyConnection::Sqlite(c) => ExecuteDsl::execute(write, c).map(drop),
    }
}

/// [`defer`] for a write only PostgreSQL runs.
pub fn defer_postgres(c: &mut PgConnection, write: impl QueryFragment<Pg> + 'static) -> QueryResult<()> {
    let write: Box<dyn QueryFragment<Pg>> = Box::new(write);
    let outside = DEFERRED.with_borrow_mut(|deferred| match deferred {
        Some(writes) => {
            writes.push(write);
            None
        }
        None => Some(write),
    });
    match outside {
        None => Ok(()),
        Some(main) => ExecuteDsl::execute(
            With {
                before: Vec::new(),
                main,
            },
            c,
        )
        .map(drop),
    }
}

/// The deferred writes of one write transaction: opened before its first
/// statement, ended after its commit or rollback. Ending drops anything
/// still deferred (a transaction that failed), and gives back the writes
/// of a transaction this one was opened inside (on another connection),
/// if any: each transaction sends only its own.
pub(super) struct Deferring {
    outer: Option<Vec<Box<dyn QueryFragment<Pg>>>>,
}

impl Deferring {
    pub(super) fn open(conn: &AnyConnection) -> Option<Self> {
        match conn {
            AnyConnection::Postgres(_) => Some(Self {
                outer: DEFERRED.replace(Some(Vec::new())),
            }),
            AnyConnection::Sqlite(_) => None,
        }
    }

    /// Sends what is still deferred, as one statement: before the commit.
    pub(super) fn flush(&self, conn: &mut AnyConnection) -> QueryResult<()> {
        let mut writes = take();
        let (Some(main), AnyConnection::Postgres(c)) = (writes.pop(), conn) else {
            return Ok(());
        };
        ExecuteDsl::execute(With { before: writes, main }, c).map(drop)
    }
}

impl Drop for Deferring {
    fn drop(&mut self) {
        DEFERRED.set(self.outer.take());
    }
}

fn take() -> Vec<Box<dyn QueryFragment<Pg>>> {
    DEFERRED.with_borrow_mut(|deferred| deferred.as_mut().map(std::mem::take).unwrap_or_default())
}

/// `main`, with `before` run as part of it (see the module documentation).
pub struct With<'a, M> {
    before: Vec<Box<dyn QueryFragment<Pg> + 'a>>,
    main: M,
}

impl<'a, M> With<'a, M> {
    pub fn new(main: M) -> Self {
        Self {
            before: Vec::new(),
            main,
        }
    }

    /// Adds a write whose result nothing reads.
    pub fn before(mut self, write: impl QueryFragment<Pg> + 'a) -> Self {
        self.before.push(Box::new(write));
        self
    }

    /// Adds the writes this thread's transaction has deferred ([`defer`]).
    pub fn deferred(mut self) -> Self {
        self.before.extend(take());
        self
    }
}

// The text depends on which writes go before, so the statement is cached
// by its text (which holds no values: every value is bound).
impl<M> QueryId for With<'_, M> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<M: Query> Query for With<'_, M> {
    type SqlType = M::SqlType;
}

impl<M: QueryFragment<Pg>> QueryFragment<Pg> for With<'_, M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for (i, write) in self.before.iter().enumerate() {
            out.push_sql(if i == 0 { "WITH " } else { ", " });
            out.push_sql(&format!("w{i} AS ("));
            write.walk_ast(out.reborrow())?;
            out.push_sql(")");
        }
        if !self.before.is_empty() {
            out.push_sql(" ");
        }
        self.main.walk_ast(out.reborrow())
    }
}

impl<M, Conn> RunQueryDsl<Conn> for With<'_, M> {}
