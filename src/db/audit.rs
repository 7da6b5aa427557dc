//! The audit trail (append-only: the database refuses updates and deletes).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::models::{AuditRow, NewAuditRow};
use super::schema::audit_log;

pub fn insert_audit(conn: &mut AnyConnection, row: &NewAuditRow) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub struct AuditFilter {
    /// Entries of actors from these communities; `None` for all.
    pub communities: Option<Vec<i64>>,
    pub actor_id: Option<i64>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Keyset: entries older than this id.
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Newest first.
pub fn list_audit(conn: &mut AnyConnection, f: &AuditFilter) -> QueryResult<Vec<AuditRow>> {
    let mut query = audit_log::table
        .select(AuditRow::as_select())
        .order(audit_log::id.desc())
        .limit(f.limit)
        .into_boxed();
    if let Some(communities) = &f.communities {
        query = query.filter(audit_log::community_id.eq_any(communities.clone()));
    }
    if let Some(actor) = f.actor_id {
        query = query.filter(audit_log::actor_id.eq(actor));
    }
    if let Some(from) = f.from {
        query = query.filter(audit_log::created_at.ge(from));
    }
    if let Some(to) = f.to {
        query = query.filter(audit_log::created_at.lt(to));
    }
    if let Some(before) = f.before_id {
        query = query.filter(audit_log::id.lt(before));
    }
    query.load(conn)
}
