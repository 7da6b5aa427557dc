//! Attempts counted against a limit (`limit_attempts`): the SQL behind
//! `limits::reserve`. Keys arrive already hashed.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Integer;

use super::AnyConnection;
use super::schema::limit_attempts;

/// The first key of PostgreSQL's two-key advisory locks taken here, so they
/// cannot meet locks taken for anything else.
const ADVISORY_LOCK_CLASS: i32 = 0x6c69_6d74; // "limt"

/// Serialises checks of one key until the transaction ends. PostgreSQL: a
/// transaction-scoped advisory lock on (part of) the key's hash; two keys
/// sharing those 32 bits only wait for each other. SQLite: nothing to do, its
/// write transactions (`BEGIN IMMEDIATE`) run one at a time already.
pub fn lock_key(conn: &mut AnyConnection, key_hash: &str) -> QueryResult<()> {
    match conn {
        AnyConnection::Postgres(pg) => {
            let bits = key_hash
                .get(..8)
                .and_then(|prefix| u32::from_str_radix(prefix, 16).ok())
                .unwrap_or(0);
            diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind::<Integer, _>(ADVISORY_LOCK_CLASS)
                .bind::<Integer, _>(i32::from_ne_bytes(bits.to_ne_bytes()))
                .execute(pg)
                .map(drop)
        }
        AnyConnection::Sqlite(_) => Ok(()),
    }
}

/// When the key has `allowed` attempts or more after `since`: the time of
/// the `allowed`-th newest, which must leave the window before another
/// attempt fits. `None` while the key is under its limit.
pub fn limit_reached_by(
    conn: &mut AnyConnection,
    scope: &str,
    key_hash: &str,
    allowed: u32,
    since: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    limit_attempts::table
        .filter(limit_attempts::scope.eq(scope))
        .filter(limit_attempts::key_hash.eq(key_hash))
        .filter(limit_attempts::attempted_at.gt(since))
        .order(limit_attempts::attempted_at.desc())
        .select(limit_attempts::attempted_at)
        .offset(i64::from(allowed.saturating_sub(1)))
        .limit(1)
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut AnyConnection, scope: &str, key_hash: &str, at: NaiveDateTime) -> QueryResult<i64> {
    diesel::insert_into(limit_attempts::table)
        .values((
            limit_attempts::scope.eq(scope),
            limit_attempts::key_hash.eq(key_hash),
            limit_attempts::attempted_at.eq(at),
        ))
        .returning(limit_attempts::id)
        .get_result(conn)
}

pub fn delete_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(limit_attempts::table.filter(limit_attempts::id.eq_any(ids))).execute(conn)
}

/// Deletes a key's attempts: all of them, or (with `before`) those at or
/// before that time.
pub fn delete_key(
    conn: &mut AnyConnection,
    scope: &str,
    key_hash: &str,
    before: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    let rows = limit_attempts::table
        .filter(limit_attempts::scope.eq(scope))
        .filter(limit_attempts::key_hash.eq(key_hash));
    match before {
        Some(before) => diesel::delete(rows.filter(limit_attempts::attempted_at.le(before))).execute(conn),
        None => diesel::delete(rows).execute(conn),
    }
}

/// Deletes up to `batch` attempts made at or before `before`.
pub fn prune(conn: &mut AnyConnection, before: NaiveDateTime, batch: i64) -> QueryResult<usize> {
    let ids: Vec<i64> = limit_attempts::table
        .filter(limit_attempts::attempted_at.le(before))
        .select(limit_attempts::id)
        .limit(batch)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    delete_ids(conn, &ids)
}
