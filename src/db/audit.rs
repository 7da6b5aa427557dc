//! The audit trail (append-only: the database refuses updates and deletes,
//! of its rows and of the statuses appended to them).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::models::{AuditRow, NewAuditRow};
use super::schema::{audit_answers, audit_log, extension_requests, follow_ups, posts, tickets, units, users};
use crate::domain::grid::community_of;
use crate::policy::audit::AuditObject;

/// Appends `row`; returns its id. On PostgreSQL the writes the change
/// deferred go in the same statement (`batch::defer`): the audit row is a
/// change's last write.
pub fn insert_audit(conn: &mut AnyConnection, row: &NewAuditRow) -> QueryResult<i64> {
    let insert = diesel::insert_into(audit_log::table)
        .values(row)
        .returning(audit_log::id);
    match conn {
        AnyConnection::Postgres(c) => super::batch::With::new(insert).deferred().get_result(c),
        AnyConnection::Sqlite(c) => insert.get_result(c),
    }
}

/// Appends several rows in one statement (a batch of queued reads). On
/// PostgreSQL a binary `COPY`: an `INSERT` of a batch is a new statement
/// of up to 5,120 parameters, parsed and planned on every batch.
pub fn insert_audits(conn: &mut AnyConnection, rows: &[NewAuditRow]) -> QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(c) => diesel::insert_into(audit_log::table).values(rows).execute(c).map(drop),
        AnyConnection::Postgres(c) => diesel::copy_from(audit_log::table)
            .from_insertable(rows)
            .execute(c)
            .map(drop),
    }
}

/// Appends the status a request answered to its row, which was written in
/// the change's transaction before the answer was known, with the status
/// the operation documents for success.
pub fn insert_answer(conn: &mut AnyConnection, audit_id: i64, status: i32, at: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(audit_answers::table)
        .values((
            audit_answers::audit_id.eq(audit_id),
            audit_answers::status.eq(status),
            audit_answers::created_at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

/// The communities `object` belongs to (several for an account serving
/// more than one; none when it no longer exists).
pub fn communities_of(conn: &mut AnyConnection, object: AuditObject) -> QueryResult<Vec<i64>> {
    let ticket_community = |conn: &mut AnyConnection, id: i64| {
        tickets::table
            .find(id)
            .select(tickets::community_id)
            .first::<i64>(conn)
            .optional()
    };
    let found = match object {
        AuditObject::Ticket(id) => ticket_community(conn, id)?,
        AuditObject::ExtensionRequest(id) => extension_requests::table
            .inner_join(tickets::table.on(tickets::id.eq(extension_requests::ticket_id)))
            .filter(extension_requests::id.eq(id))
            .select(tickets::community_id)
            .first::<i64>(conn)
            .optional()?,
        AuditObject::FollowUp(id) => follow_ups::table
            .inner_join(tickets::table.on(tickets::id.eq(follow_ups::ticket_id)))
            .filter(follow_ups::id.eq(id))
            .select(tickets::community_id)
            .first::<i64>(conn)
            .optional()?,
        AuditObject::Unit(id) => units::table
            .find(id)
            .select(units::path)
            .first::<String>(conn)
            .optional()?
            .as_deref()
            .and_then(community_of),
        AuditObject::Post(id) => posts::table
            .inner_join(units::table)
            .filter(posts::id.eq(id))
            .select(units::path)
            .first::<String>(conn)
            .optional()?
            .as_deref()
            .and_then(community_of),
        AuditObject::User(id) => return user_communities(conn, id),
    };
    Ok(found.into_iter().collect())
}

pub fn community_exists(conn: &mut AnyConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(units::table.find(id))).get_result(conn)
}

/// An account's communities: those of its posts and its home, or the one it
/// was last posted in.
fn user_communities(conn: &mut AnyConnection, id: i64) -> QueryResult<Vec<i64>> {
    let Some((building, last)) = users::table
        .find(id)
        .select((users::building_id, users::last_community_id))
        .first::<(Option<i64>, Option<i64>)>(conn)
        .optional()?
    else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<String> = posts::table
        .inner_join(units::table)
        .filter(posts::user_id.eq(id))
        .select(units::path)
        .load(conn)?;
    if let Some(building) = building {
        paths.extend(
            units::table
                .find(building)
                .select(units::path)
                .first::<String>(conn)
                .optional()?,
        );
    }
    let mut ids: Vec<i64> = paths.iter().filter_map(|p| community_of(p)).collect();
    if ids.is_empty() {
        ids.extend(last);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

pub struct AuditFilter {
    /// Entries filed under these communities; `None` for all.
    pub communities: Option<Vec<i64>>,
    pub actor_id: Option<i64>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Keyset: entries older than this id.
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Newest first, each with the status its request answered when that
/// differs from the one written with the row.
pub fn list_audit(conn: &mut AnyConnection, f: &AuditFilter) -> QueryResult<Vec<(AuditRow, Option<i32>)>> {
    let mut query = audit_log::table
        .left_join(audit_answers::table)
        .select((AuditRow::as_select(), audit_answers::status.nullable()))
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
