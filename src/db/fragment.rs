//! A condition written as SQL whose values are all bound, so that the
//! statement it is part of may stay prepared.
//!
//! diesel never caches a statement holding `diesel::dsl::sql` (its text may
//! hold values) nor, on SQLite, one with `eq_any` (one placeholder per
//! value). The ticket lists need both: a caller's scope is a condition over
//! communities, subtrees and sub-selects. Written with literals, every page
//! of tickets was parsed and planned again: a tenth of the CPU of an
//! admin's list. A [`Fragment`] keeps values out of its text, so the text
//! depends only on the query's shape: which filters, how many values.
//!
//! diesel's statement cache has no bound, so neither may the shapes it
//! keeps: [`Shapes::admit`] lets the first [`MAX_SHAPES`] shapes of a
//! process be cached and leaves any further one to be prepared per use, as
//! before. A caller trying every combination of filters costs speed, never
//! memory.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, HasSqlType, Text, Timestamp};
use diesel::sqlite::Sqlite;

/// How many query shapes a process lets stay prepared.
pub const MAX_SHAPES: usize = 128;

/// SQL text with bound values: a boolean condition for `.filter`.
#[derive(Debug, Clone, Default)]
pub struct Fragment {
    parts: Vec<Part>,
    /// Whether a statement holding it may be kept prepared.
    cache: bool,
}

#[derive(Debug, Clone)]
enum Part {
    Sql(Cow<'static, str>),
    Int(i64),
    Text(String),
    Time(NaiveDateTime),
}

impl Fragment {
    /// An empty fragment; `cache`: see [`Shapes::admit`].
    pub fn new(cache: bool) -> Self {
        Self {
            parts: Vec::new(),
            cache,
        }
    }

    /// Text, which must hold no value a caller chose.
    pub fn sql(mut self, sql: impl Into<Cow<'static, str>>) -> Self {
        self.push_sql(sql);
        self
    }

    pub fn push_sql(&mut self, sql: impl Into<Cow<'static, str>>) {
        self.parts.push(Part::Sql(sql.into()));
    }

    pub fn int(mut self, value: i64) -> Self {
        self.push_int(value);
        self
    }

    pub fn push_int(&mut self, value: i64) {
        self.parts.push(Part::Int(value));
    }

    pub fn text(mut self, value: impl Into<String>) -> Self {
        self.push_text(value);
        self
    }

    pub fn push_text(&mut self, value: impl Into<String>) {
        self.parts.push(Part::Text(value.into()));
    }

    pub fn time(mut self, value: NaiveDateTime) -> Self {
        self.parts.push(Part::Time(value));
        self
    }

    /// `a, b, c` as bound integers.
    pub fn ints(mut self, values: &[i64]) -> Self {
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.push_sql(", ");
            }
            self.push_int(*value);
        }
        self
    }

    /// `a, b, c` as bound texts.
    pub fn texts<S: AsRef<str>>(mut self, values: &[S]) -> Self {
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.push_sql(", ");
            }
            self.push_text(value.as_ref());
        }
        self
    }

    /// Appends another fragment's parts.
    pub fn append(mut self, other: Fragment) -> Self {
        self.parts.extend(other.parts);
        self
    }

    fn walk<'b, DB>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()>
    where
        DB: Backend + HasSqlType<BigInt> + HasSqlType<Text> + HasSqlType<Timestamp>,
        i64: ToSql<BigInt, DB>,
        String: ToSql<Text, DB>,
        NaiveDateTime: ToSql<Timestamp, DB>,
    {
        if !self.cache {
            out.unsafe_to_cache_prepared();
        }
        for part in &self.parts {
            match part {
                Part::Sql(sql) => out.push_sql(sql),
                Part::Int(value) => out.push_bind_param::<BigInt, _>(value)?,
                Part::Text(value) => out.push_bind_param::<Text, _>(value)?,
                Part::Time(value) => out.push_bind_param::<Timestamp, _>(value)?,
            }
        }
        Ok(())
    }
}

impl Expression for Fragment {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for Fragment {}

impl<QS> SelectableExpression<QS> for Fragment {}

impl<G> ValidGrouping<G> for Fragment {
    type IsAggregate = is_aggregate::Never;
}

impl QueryId for Fragment {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Sqlite> for Fragment {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.walk(out)
    }
}

impl QueryFragment<Pg> for Fragment {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.walk(out)
    }
}

/// `query LIMIT n` with `n` written into the statement, not bound.
/// PostgreSQL prices a bound `LIMIT` of a kept statement as a tenth of the
/// table, so a plan for any values never looks as cheap as one for the
/// values given and every use is planned anew. The statement's text then
/// depends on the page size: a shape, see [`Shapes`].
#[derive(Debug, Clone)]
pub struct LimitedTo<Q> {
    query: Q,
    limit: i64,
}

impl<Q> LimitedTo<Q> {
    pub fn new(query: Q, limit: i64) -> Self {
        Self { query, limit }
    }
}

impl<Q> QueryId for LimitedTo<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for LimitedTo<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for LimitedTo<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(&format!(" LIMIT {}", self.limit));
        Ok(())
    }
}

impl<Q, Conn> RunQueryDsl<Conn> for LimitedTo<Q> {}

/// The query shapes this process keeps prepared: see the module
/// documentation.
#[derive(Debug, Default)]
pub struct Shapes {
    admitted: Mutex<HashSet<u64>>,
}

impl Shapes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the statement of this shape may be kept prepared: yes for a
    /// shape already admitted, and for a new one while fewer than
    /// [`MAX_SHAPES`] are.
    pub fn admit(&self, shape: &impl Hash) -> bool {
        let mut hasher = DefaultHasher::new();
        shape.hash(&mut hasher);
        let key = hasher.finish();
        let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
        if admitted.contains(&key) {
            return true;
        }
        if admitted.len() < MAX_SHAPES {
            admitted.insert(key);
            return true;
        }
        false
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.admitted.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_past_the_bound_are_not_kept() {
        let shapes = Shapes::new();
        for i in 0..MAX_SHAPES {
            assert!(shapes.admit(&i), "shape {i} is within the bound");
        }
        assert!(shapes.admit(&0usize), "an admitted shape stays admitted");
        assert!(!shapes.admit(&MAX_SHAPES), "one more shape is prepared per use");
        assert_eq!(shapes.len(), MAX_SHAPES);
    }
}
