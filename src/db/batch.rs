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
//! SQLite has no data-modifying `WITH` and no round trips: its callers run
//! the same writes one after the other.

use diesel::QueryResult;
use diesel::pg::Pg;
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
