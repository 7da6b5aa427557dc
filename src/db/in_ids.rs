//! `column IN (ids)` as a statement prepared once, however many ids.
//!
//! diesel writes `eq_any` as one placeholder per id on SQLite (and through
//! the two-database connection on PostgreSQL too), and a statement whose
//! text depends on the number of ids is never cached: every page of tickets
//! paid for parsing and planning its visits, reporters and categories
//! again. Here SQLite gets the ids as one JSON array
//! (`IN (SELECT value FROM json_each(?))`) and PostgreSQL as one array
//! (`= ANY($1)`, diesel's own form on its connection), so each query has one
//! text and is prepared once per connection.

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, SelectableExpression};

/// Loads `$query` (written once, built for each database: its row type is
/// tied to the backend) filtered to `$column IN $ids`, prepared once per
/// connection on either database.
macro_rules! by_ids {
    ($conn:expr, $column:expr, $ids:expr, $query:expr) => {
        match ($conn, $ids) {
            // One id (a ticket's page): a plain lookup, no list to build.
            ($crate::db::AnyConnection::Sqlite(c), [id]) => $query.filter($column.eq(*id)).load(c),
            ($crate::db::AnyConnection::Sqlite(c), ids) => {
                $query.filter($crate::db::in_ids::in_ids($column, ids)).load(c)
            }
            ($crate::db::AnyConnection::Postgres(c), ids) => $query.filter($column.eq_any(ids)).load(c),
        }
    };
}
pub(crate) use by_ids;

/// `column IN (ids)` for SQLite: see the module documentation.
#[derive(Debug, Clone)]
pub struct InIds<C> {
    column: C,
    /// The ids as a JSON array, e.g. `[3,17]`.
    json: String,
}

/// `column IN (ids)`, prepared once on SQLite whatever the number of ids.
pub fn in_ids<C>(column: C, ids: &[i64]) -> InIds<C> {
    let mut json = String::with_capacity(2 + ids.len() * 8);
    json.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&id.to_string());
    }
    json.push(']');
    InIds { column, json }
}

impl<C> Expression for InIds<C>
where
    C: Expression<SqlType = BigInt>,
{
    type SqlType = Bool;
}

impl<C, QS> AppearsOnTable<QS> for InIds<C>
where
    C: AppearsOnTable<QS>,
    Self: Expression,
{
}

impl<C, QS> SelectableExpression<QS> for InIds<C>
where
    C: SelectableExpression<QS>,
    Self: AppearsOnTable<QS>,
{
}

impl<C, G> ValidGrouping<G> for InIds<C>
where
    C: ValidGrouping<G>,
{
    type IsAggregate = C::IsAggregate;
}

impl<C: QueryId> QueryId for InIds<C> {
    type QueryId = InIds<C::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = C::HAS_STATIC_QUERY_ID;
}

impl<C> QueryFragment<Sqlite> for InIds<C>
where
    C: QueryFragment<Sqlite>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, _>(&self.json)?;
        out.push_sql("))");
        Ok(())
    }
}
