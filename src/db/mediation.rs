//! People's mediation (人民调解) records: sessions, the agreement, and the
//! follow-up visits (履行回访) an agreement starts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::models::{AgreementRow, FollowUpRow, MediationRow, NewMediationRow, TicketRow};
use super::schema::{dispute_agreements, follow_ups, mediation_sessions, tickets};

pub fn insert_mediation(conn: &mut AnyConnection, new: &NewMediationRow) -> QueryResult<MediationRow> {
    diesel::insert_into(mediation_sessions::table)
        .values(new)
        .returning(mediation_sessions::all_columns)
        .get_result(conn)
}

/// A dispute's sessions in the order they were held.
pub fn mediations_of(conn: &mut AnyConnection, ticket_id: i64) -> QueryResult<Vec<MediationRow>> {
    mediation_sessions::table
        .filter(mediation_sessions::ticket_id.eq(ticket_id))
        .order((mediation_sessions::held_at.asc(), mediation_sessions::id.asc()))
        .select(MediationRow::as_select())
        .load(conn)
}

pub fn find_agreement(conn: &mut AnyConnection, ticket_id: i64) -> QueryResult<Option<AgreementRow>> {
    dispute_agreements::table
        .find(ticket_id)
        .select(AgreementRow::as_select())
        .first(conn)
        .optional()
}

pub fn agreements_of(conn: &mut AnyConnection, ticket_ids: &[i64]) -> QueryResult<Vec<AgreementRow>> {
    dispute_agreements::table
        .filter(dispute_agreements::ticket_id.eq_any(ticket_ids))
        .select(AgreementRow::as_select())
        .load(conn)
}

/// Records the agreement, or replaces its text (the caller holds the
/// ticket's lock, so the read-then-write cannot race).
pub fn save_agreement(conn: &mut AnyConnection, row: &AgreementRow) -> QueryResult<AgreementRow> {
    if find_agreement(conn, row.ticket_id)?.is_some() {
        diesel::update(dispute_agreements::table.find(row.ticket_id))
            .set((
                dispute_agreements::terms.eq(&row.terms),
                dispute_agreements::performance_deadline.eq(row.performance_deadline),
                dispute_agreements::recorded_by.eq(row.recorded_by),
                dispute_agreements::updated_at.eq(row.updated_at),
            ))
            .returning(dispute_agreements::all_columns)
            .get_result(conn)
    } else {
        diesel::insert_into(dispute_agreements::table)
            .values(row)
            .returning(dispute_agreements::all_columns)
            .get_result(conn)
    }
}

/// Schedules the follow-up of an agreement: the open one moves to `due_at`,
/// or a new one is opened (earlier, recorded ones stay as they were).
pub fn schedule_follow_up(
    conn: &mut AnyConnection,
    ticket_id: i64,
    due_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<FollowUpRow> {
    let open: Option<i64> = follow_ups::table
        .filter(follow_ups::ticket_id.eq(ticket_id))
        .filter(follow_ups::recorded_at.is_null())
        .select(follow_ups::id)
        .first(conn)
        .optional()?;
    match open {
        Some(id) => diesel::update(follow_ups::table.find(id))
            .set(follow_ups::due_at.eq(due_at))
            .returning(follow_ups::all_columns)
            .get_result(conn),
        None => diesel::insert_into(follow_ups::table)
            .values((
                follow_ups::ticket_id.eq(ticket_id),
                follow_ups::due_at.eq(due_at),
                follow_ups::created_at.eq(now),
            ))
            .returning(follow_ups::all_columns)
            .get_result(conn),
    }
}

pub fn follow_ups_of(conn: &mut AnyConnection, ticket_id: i64) -> QueryResult<Vec<FollowUpRow>> {
    follow_ups::table
        .filter(follow_ups::ticket_id.eq(ticket_id))
        .order(follow_ups::id.asc())
        .select(FollowUpRow::as_select())
        .load(conn)
}

pub fn find_follow_up(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<FollowUpRow>> {
    follow_ups::table
        .find(id)
        .select(FollowUpRow::as_select())
        .first(conn)
        .optional()
}

pub fn record_follow_up(
    conn: &mut AnyConnection,
    id: i64,
    recorded_by: i64,
    result: &str,
    note: Option<String>,
    now: NaiveDateTime,
) -> QueryResult<FollowUpRow> {
    diesel::update(follow_ups::table.find(id))
        .set((
            follow_ups::recorded_at.eq(Some(now)),
            follow_ups::recorded_by.eq(Some(recorded_by)),
            follow_ups::result.eq(Some(result)),
            follow_ups::note.eq(note),
        ))
        .returning(follow_ups::all_columns)
        .get_result(conn)
}

/// Claims up to `limit` follow-ups of settled disputes due by `now` and not
/// yet told of at their due date, locked for this transaction (others skip
/// them on PostgreSQL).
pub fn claim_due_follow_ups(conn: &mut AnyConnection, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<i64>> {
    let settled = tickets::table
        .filter(tickets::status.eq_any(["resolved", "closed"]))
        .select(tickets::id);
    let query = follow_ups::table
        .filter(follow_ups::recorded_at.is_null())
        .filter(follow_ups::due_at.le(now))
        .filter(
            follow_ups::reminded_due
                .is_null()
                .or(follow_ups::reminded_due.ne(follow_ups::due_at.nullable())),
        )
        .filter(follow_ups::ticket_id.eq_any(settled))
        .order(follow_ups::due_at.asc())
        .select(follow_ups::id)
        .limit(limit);
    match conn {
        AnyConnection::Postgres(pg) => query.for_update().skip_locked().load(pg),
        AnyConnection::Sqlite(sqlite) => query.load(sqlite),
    }
}

/// Remembers that the unit was told of `follow_up` at its due date.
pub fn mark_reminded(conn: &mut AnyConnection, follow_up: &FollowUpRow) -> QueryResult<()> {
    diesel::update(follow_ups::table.find(follow_up.id))
        .set(follow_ups::reminded_due.eq(Some(follow_up.due_at)))
        .execute(conn)
        .map(drop)
}

/// Which follow-ups a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpState {
    /// Not yet recorded and due now (or overdue).
    Due,
    /// Not yet recorded, due later.
    Upcoming,
    /// Recorded.
    Done,
}

pub struct FollowUpFilter {
    /// Tickets whose current unit is one of these; `None` for every unit.
    pub unit_ids: Option<Vec<i64>>,
    pub state: FollowUpState,
    pub now: NaiveDateTime,
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// Follow-ups of settled disputes (resolved or closed), oldest first, with
/// their tickets.
pub fn list_follow_ups(conn: &mut AnyConnection, f: &FollowUpFilter) -> QueryResult<Vec<(FollowUpRow, TicketRow)>> {
    let mut query = follow_ups::table
        .inner_join(tickets::table)
        .filter(tickets::status.eq_any(["resolved", "closed"]))
        .select((FollowUpRow::as_select(), TicketRow::as_select()))
        .order(follow_ups::id.asc())
        .limit(f.limit)
        .into_boxed();
    if let Some(units) = &f.unit_ids {
        query = query.filter(tickets::current_unit_id.eq_any(units.clone()));
    }
    query = match f.state {
        FollowUpState::Due => query
            .filter(follow_ups::recorded_at.is_null())
            .filter(follow_ups::due_at.le(f.now)),
        FollowUpState::Upcoming => query
            .filter(follow_ups::recorded_at.is_null())
            .filter(follow_ups::due_at.gt(f.now)),
        FollowUpState::Done => query.filter(follow_ups::recorded_at.is_not_null()),
    };
    if let Some(after) = f.after_id {
        query = query.filter(follow_ups::id.gt(after));
    }
    query.load(conn)
}
