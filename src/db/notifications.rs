//! What each person is told: written with the event that causes it, read
//! by its recipient alone, newest first.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_dsl::methods::ExecuteDsl;

use super::AnyConnection;
use super::batch::{self, When, With};
use super::schema::{notifications, posts, users};
use super::stamp::{MaybeStamp, Stamp};
use super::webhooks::{Outgoing, enqueue_statement};

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = notifications, treat_none_as_default_value = false)]
pub struct NewNotificationRow {
    pub user_id: i64,
    pub kind: String,
    pub ticket_id: Option<i64>,
    pub event_id: Option<i64>,
    pub unit_id: Option<i64>,
    pub due_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub read_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct NotificationRow {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub ticket_id: Option<i64>,
    pub event_id: Option<i64>,
    pub unit_id: Option<i64>,
    #[diesel(deserialize_as = MaybeStamp)]
    pub due_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = MaybeStamp)]
    pub read_at: Option<NaiveDateTime>,
}

pub fn insert_notifications(conn: &mut AnyConnection, rows: &[NewNotificationRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    super::each_backend!(conn, |c| diesel::insert_into(notifications::table)
        .values(rows)
        .execute(c)
        .map(drop))
}

/// Writes `row` (its `user_id` aside) to every active account holding a
/// post at exactly `unit_id`, but `actor`, in one statement: what a filing
/// writes, without first reading who the staff are. The webhook deliveries
/// `queue` go in the same statement on PostgreSQL (`db::batch`), or with
/// the change's last one when `when` defers them.
pub fn insert_for_staff_of(
    conn: &mut AnyConnection,
    unit_id: i64,
    actor: Option<i64>,
    row: &NewNotificationRow,
    queue: &[Outgoing<'_>],
    when: When,
) -> QueryResult<()> {
    use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
    let staff = posts::table
        .inner_join(users::table)
        .filter(posts::unit_id.eq(unit_id))
        .filter(users::active.eq(true))
        .filter(posts::user_id.ne(actor.unwrap_or(0)))
        .select((
            posts::user_id,
            row.kind.clone().into_sql::<Text>(),
            row.ticket_id.into_sql::<Nullable<BigInt>>(),
            row.event_id.into_sql::<Nullable<BigInt>>(),
            row.unit_id.into_sql::<Nullable<BigInt>>(),
            row.due_at.into_sql::<Nullable<Timestamp>>(),
            row.created_at.into_sql::<Timestamp>(),
        ));
    let columns = (
        notifications::user_id,
        notifications::kind,
        notifications::ticket_id,
        notifications::event_id,
        notifications::unit_id,
        notifications::due_at,
        notifications::created_at,
    );
    let insert = diesel::insert_into(notifications::table)
        .values(staff)
        .into_columns(columns);
    match (conn, when) {
        (conn, When::Deferred) => {
            for outgoing in queue {
                batch::defer(conn, enqueue_statement(outgoing))?;
            }
            batch::defer(conn, insert)
        }
        (AnyConnection::Postgres(c), When::Now) => queue
            .iter()
            .fold(With::new(insert), |with, outgoing| {
                with.before(enqueue_statement(outgoing))
            })
            .execute(c)
            .map(drop),
        (AnyConnection::Sqlite(c), When::Now) => {
            for outgoing in queue {
                ExecuteDsl::execute(enqueue_statement(outgoing), c)?;
            }
            insert.execute(c).map(drop)
        }
    }
}

/// The active accounts holding a post at exactly these units, as
/// (unit id, user id).
pub fn staff_at(conn: &mut AnyConnection, unit_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    posts::table
        .inner_join(users::table)
        .filter(posts::unit_id.eq_any(unit_ids))
        .filter(users::active.eq(true))
        .select((posts::unit_id, posts::user_id))
        .order((posts::unit_id, posts::user_id))
        .load(conn)
}

/// A page of `user_id`'s notifications below `before_id`, newest first.
pub fn page(
    conn: &mut AnyConnection,
    user_id: i64,
    unread_only: bool,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<NotificationRow>> {
    let mut query = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .select(NotificationRow::as_select())
        .order(notifications::id.desc())
        .limit(limit)
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::read_at.is_null());
    }
    if let Some(before) = before_id {
        query = query.filter(notifications::id.lt(before));
    }
    query.load(conn)
}

/// `user_id`'s notifications after `after_id`, oldest first (a stream's next).
pub fn after(conn: &mut AnyConnection, user_id: i64, after_id: i64, limit: i64) -> QueryResult<Vec<NotificationRow>> {
    notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::id.gt(after_id))
        .select(NotificationRow::as_select())
        .order(notifications::id.asc())
        .limit(limit)
        .load(conn)
}

/// The id of `user_id`'s newest notification (0 when none).
pub fn newest_id(conn: &mut AnyConnection, user_id: i64) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::user_id.eq(user_id))
        .select(diesel::dsl::max(notifications::id))
        .first::<Option<i64>>(conn)
        .map(|id| id.unwrap_or(0))
}

pub fn unread_count(conn: &mut AnyConnection, user_id: i64) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(conn)
}

/// Which of `user_id`'s unread notifications to mark read.
pub enum Marked<'a> {
    These(&'a [i64]),
    UpTo(i64),
}

/// Marks `user_id`'s unread notifications read at `now`; returns how many
/// were. Another person's ids are not theirs to mark and are left alone.
pub fn mark_read(conn: &mut AnyConnection, user_id: i64, which: Marked, now: NaiveDateTime) -> QueryResult<usize> {
    let mine = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null());
    match which {
        Marked::These(ids) => diesel::update(mine.filter(notifications::id.eq_any(ids)))
            .set(notifications::read_at.eq(now))
            .execute(conn),
        Marked::UpTo(id) => diesel::update(mine.filter(notifications::id.le(id)))
            .set(notifications::read_at.eq(now))
            .execute(conn),
    }
}

/// Deletes up to `limit` of the oldest notifications if created before
/// `cutoff`; returns how many went. Walks the key from the oldest (ids grow
/// with time), so it reads at most `limit` rows whatever the table holds.
pub fn delete_older_than(conn: &mut AnyConnection, cutoff: NaiveDateTime, limit: i64) -> QueryResult<usize> {
    let oldest: Vec<(i64, NaiveDateTime)> = notifications::table
        .select((notifications::id, notifications::created_at))
        .order(notifications::id.asc())
        .limit(limit)
        .load::<(i64, Stamp)>(conn)?
        .into_iter()
        .map(|(id, at)| (id, at.into()))
        .collect();
    let old: Vec<i64> = oldest
        .iter()
        .take_while(|(_, at)| *at < cutoff)
        .map(|(id, _)| *id)
        .collect();
    match old.last() {
        Some(last) => diesel::delete(notifications::table.filter(notifications::id.le(*last))).execute(conn),
        None => Ok(0),
    }
}
