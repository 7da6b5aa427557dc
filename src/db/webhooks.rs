//! Webhook endpoints and their outbox of deliveries.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use super::AnyConnection;
use super::schema::{devices, notifications, posts, users, webhook_deliveries, webhook_endpoints};
use super::stamp::{MaybeStamp, Stamp};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointRow {
    pub id: i64,
    pub community_id: i64,
    pub url: String,
    pub kinds: String,
    pub description: String,
    pub secret: String,
    pub state: String,
    pub consecutive_failures: i32,
    #[diesel(deserialize_as = MaybeStamp)]
    pub failing_since: Option<NaiveDateTime>,
    #[diesel(deserialize_as = MaybeStamp)]
    pub disabled_at: Option<NaiveDateTime>,
    pub created_by: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct NewEndpointRow {
    pub community_id: i64,
    pub url: String,
    pub kinds: String,
    pub description: String,
    pub secret: String,
    pub state: String,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What an admin changes of an endpoint.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub kinds: Option<String>,
    pub description: Option<String>,
    pub state: Option<String>,
    pub consecutive_failures: Option<i32>,
    pub failing_since: Option<Option<NaiveDateTime>>,
    pub disabled_at: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub endpoint_id: i64,
    pub kind: String,
    pub ticket_id: Option<i64>,
    pub event_id: Option<i64>,
    pub unit_id: Option<i64>,
    #[diesel(deserialize_as = MaybeStamp)]
    pub due_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    pub status: String,
    pub attempts: i32,
    #[diesel(deserialize_as = Stamp)]
    pub next_attempt_at: NaiveDateTime,
    #[diesel(deserialize_as = MaybeStamp)]
    pub leased_until: Option<NaiveDateTime>,
    #[diesel(deserialize_as = MaybeStamp)]
    pub last_attempt_at: Option<NaiveDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    #[diesel(deserialize_as = MaybeStamp)]
    pub delivered_at: Option<NaiveDateTime>,
    pub body: Option<String>,
}

/// `next_attempt_at` of the pending deliveries of a paused or disabled
/// endpoint: never due, so a backlog waiting for an endpoint to come back
/// costs the worker nothing. Resuming sets them due now.
pub fn parked() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MAX)
}

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

pub fn count_endpoints(conn: &mut AnyConnection, community_id: i64) -> QueryResult<i64> {
    webhook_endpoints::table
        .filter(webhook_endpoints::community_id.eq(community_id))
        .count()
        .get_result(conn)
}

pub fn insert_endpoint(conn: &mut AnyConnection, row: &NewEndpointRow) -> QueryResult<EndpointRow> {
    diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .returning(webhook_endpoints::all_columns)
        .get_result::<(
            i64,
            i64,
            String,
            String,
            String,
            String,
            String,
            i32,
            MaybeStamp,
            MaybeStamp,
            i64,
            Stamp,
            Stamp,
        )>(conn)
        .map(|r| EndpointRow {
            id: r.0,
            community_id: r.1,
            url: r.2,
            kinds: r.3,
            description: r.4,
            secret: r.5,
            state: r.6,
            consecutive_failures: r.7,
            failing_since: r.8.into(),
            disabled_at: r.9.into(),
            created_by: r.10,
            created_at: r.11.into(),
            updated_at: r.12.into(),
        })
}

pub fn find_endpoint(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<EndpointRow>> {
    webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()
}

/// Endpoints of `communities` (every one when `None`) after `after_id`, oldest first.
pub fn endpoints_page(
    conn: &mut AnyConnection,
    communities: Option<&[i64]>,
    after_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<EndpointRow>> {
    let mut query = webhook_endpoints::table
        .select(EndpointRow::as_select())
        .order(webhook_endpoints::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(communities) = communities {
        query = query.filter(webhook_endpoints::community_id.eq_any(communities));
    }
    if let Some(after) = after_id {
        query = query.filter(webhook_endpoints::id.gt(after));
    }
    query.load(conn)
}

pub fn update_endpoint(conn: &mut AnyConnection, id: i64, changes: &EndpointChanges) -> QueryResult<()> {
    diesel::update(webhook_endpoints::table.find(id))
        .set(changes)
        .execute(conn)
        .map(drop)
}

/// Deletes an endpoint and its deliveries.
pub fn delete_endpoint(conn: &mut AnyConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id))).execute(conn)?;
    diesel::delete(webhook_endpoints::table.find(id)).execute(conn)
}

/// What a notification of one kind says, for the outbox.
pub struct Outgoing<'a> {
    pub community_id: i64,
    pub kind: &'a str,
    pub ticket_id: Option<i64>,
    pub event_id: Option<i64>,
    pub unit_id: Option<i64>,
    pub due_at: Option<NaiveDateTime>,
    pub at: NaiveDateTime,
}

/// Queues `outgoing` for every endpoint of its community that takes its
/// kind, whatever the endpoint's state (a paused or disabled endpoint's are
/// parked until it is resumed), in one statement: a community without
/// endpoints costs one index lookup.
pub fn enqueue(conn: &mut AnyConnection, outgoing: &Outgoing<'_>) -> QueryResult<usize> {
    super::batch::execute(conn, enqueue_statement(outgoing))
}

/// The statement of [`enqueue`], to run or to put before another.
pub fn enqueue_statement(outgoing: &Outgoing<'_>) -> impl super::batch::Write + use<> {
    let pattern = format!("%,{},%", outgoing.kind);
    let rows = webhook_endpoints::table
        .filter(webhook_endpoints::community_id.eq(outgoing.community_id))
        .filter(
            webhook_endpoints::kinds
                .eq("*")
                .or(webhook_endpoints::kinds.like(pattern)),
        )
        .select((
            webhook_endpoints::id,
            outgoing.kind.to_owned().into_sql::<Text>(),
            outgoing.ticket_id.into_sql::<Nullable<BigInt>>(),
            outgoing.event_id.into_sql::<Nullable<BigInt>>(),
            outgoing.unit_id.into_sql::<Nullable<BigInt>>(),
            outgoing.due_at.into_sql::<Nullable<Timestamp>>(),
            outgoing.at.into_sql::<Timestamp>(),
            PENDING.into_sql::<Text>(),
            diesel::dsl::case_when(
                webhook_endpoints::state.eq("active"),
                outgoing.at.into_sql::<Timestamp>(),
            )
            .otherwise(parked().into_sql::<Timestamp>()),
        ));
    let columns = (
        webhook_deliveries::endpoint_id,
        webhook_deliveries::kind,
        webhook_deliveries::ticket_id,
        webhook_deliveries::event_id,
        webhook_deliveries::unit_id,
        webhook_deliveries::due_at,
        webhook_deliveries::created_at,
        webhook_deliveries::status,
        webhook_deliveries::next_attempt_at,
    );
    diesel::insert_into(webhook_deliveries::table)
        .values(rows)
        .into_columns(columns)
}

/// Whether any delivery to an active endpoint is due at `now`: a look at
/// the index of pending ones (those of paused endpoints are parked, never due).
pub fn any_due(conn: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<bool> {
    webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::status.eq(PENDING))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(webhook_endpoints::state.eq("active"))
        .select(webhook_deliveries::id)
        .first::<i64>(conn)
        .optional()
        .map(|found| found.is_some())
}

/// Parks an endpoint's pending deliveries (it was paused or disabled).
pub fn park(conn: &mut AnyConnection, endpoint_id: i64) -> QueryResult<usize> {
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(webhook_deliveries::status.eq(PENDING)),
    )
    .set(webhook_deliveries::next_attempt_at.eq(parked()))
    .execute(conn)
}

/// Makes an endpoint's pending deliveries due at `now` (it was resumed).
pub fn unpark(conn: &mut AnyConnection, endpoint_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(webhook_deliveries::status.eq(PENDING)),
    )
    .set(webhook_deliveries::next_attempt_at.eq(now))
    .execute(conn)
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Claims up to `limit` deliveries due at `now` to active endpoints, each
/// the oldest pending one of its ticket at its endpoint (a later one waits
/// until the earlier is delivered or given up: receivers see a ticket's
/// events in order), and leases them until `lease_until`. Another worker,
/// on another replica too, skips them until then.
pub fn claim_due(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let sql = |lock: &str| {
        format!(
            "SELECT d.id FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.state = 'active' \
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
             AND (d.leased_until IS NULL OR d.leased_until <= $1) \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id \
               AND p.ticket_id = d.ticket_id AND p.status = 'pending' AND p.id < d.id) \
             ORDER BY d.next_attempt_at, d.id LIMIT {limit}{lock}"
        )
    };
    let claimed: Vec<Claimed> = match conn {
        AnyConnection::Postgres(pg) => diesel::sql_query(sql(" FOR UPDATE OF d SKIP LOCKED"))
            .bind::<Timestamp, _>(now)
            .load(pg)?,
        AnyConnection::Sqlite(sqlite) => diesel::sql_query(sql("")).bind::<Timestamp, _>(now).load(sqlite)?,
    };
    let ids: Vec<i64> = claimed.into_iter().map(|c| c.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
        .set(webhook_deliveries::leased_until.eq(lease_until))
        .execute(conn)?;
    webhook_deliveries::table
        .filter(webhook_deliveries::id.eq_any(&ids))
        .select(DeliveryRow::as_select())
        .order(webhook_deliveries::id.asc())
        .load(conn)
}

/// Who a delivery's notifications went to: the users its event (or, for
/// the worker's warnings, its moment) told of its kind.
pub fn recipients(conn: &mut AnyConnection, delivery: &DeliveryRow) -> QueryResult<Vec<i64>> {
    let Some(ticket_id) = delivery.ticket_id else {
        return Ok(Vec::new());
    };
    let mut query = notifications::table
        .filter(notifications::ticket_id.eq(ticket_id))
        .filter(notifications::kind.eq(&delivery.kind))
        .select(notifications::user_id)
        .order(notifications::user_id.asc())
        .into_boxed();
    query = match delivery.event_id {
        Some(event) => query.filter(notifications::event_id.eq(event)),
        None => query
            .filter(notifications::event_id.is_null())
            .filter(notifications::created_at.eq(delivery.created_at)),
    };
    query.load(conn)
}

/// The devices of `users`, as (user id, platform, token).
pub fn devices_of(conn: &mut AnyConnection, users: &[i64]) -> QueryResult<Vec<(i64, String, String)>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    devices::table
        .filter(devices::user_id.eq_any(users))
        .select((devices::user_id, devices::platform, devices::token))
        .order((devices::user_id, devices::id))
        .load(conn)
}

pub fn endpoints_by_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<EndpointRow>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::id.eq_any(ids))
        .select(EndpointRow::as_select())
        .load(conn)
}

pub fn set_body(conn: &mut AnyConnection, id: i64, body: &str) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set(webhook_deliveries::body.eq(body))
        .execute(conn)
        .map(drop)
}

/// What one attempt came to, as recorded.
pub struct Attempted {
    pub at: NaiveDateTime,
    /// The HTTP status answered, when one was.
    pub status: Option<i32>,
    /// Why it failed, in a few words; `None` when delivered.
    pub error: Option<String>,
    /// When to try again; `None` when delivered or given up.
    pub retry_at: Option<NaiveDateTime>,
}

/// Records an attempt of a delivery this worker still holds (`leased_until`
/// as claimed); returns false when it no longer does (its lease ran out and
/// another worker took it over).
pub fn record_attempt(
    conn: &mut AnyConnection,
    id: i64,
    leased_until: NaiveDateTime,
    attempt: &Attempted,
) -> QueryResult<bool> {
    let status = match (&attempt.error, attempt.retry_at) {
        (None, _) => DELIVERED,
        (Some(_), Some(_)) => PENDING,
        (Some(_), None) => FAILED,
    };
    let updated = diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(id))
            .filter(webhook_deliveries::status.eq(PENDING))
            .filter(webhook_deliveries::leased_until.eq(leased_until)),
    )
    .set((
        webhook_deliveries::status.eq(status),
        webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        webhook_deliveries::leased_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::last_attempt_at.eq(attempt.at),
        webhook_deliveries::last_status.eq(attempt.status),
        webhook_deliveries::last_error.eq(attempt.error.as_deref()),
        webhook_deliveries::next_attempt_at.eq(attempt.retry_at.unwrap_or(attempt.at)),
        webhook_deliveries::delivered_at.eq(attempt.error.is_none().then_some(attempt.at)),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// An endpoint's deliveries below `before_id`, newest first.
pub fn deliveries_page(
    conn: &mut AnyConnection,
    endpoint_id: i64,
    status: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .select(DeliveryRow::as_select())
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(webhook_deliveries::status.eq(status.to_owned()));
    }
    if let Some(before) = before_id {
        query = query.filter(webhook_deliveries::id.lt(before));
    }
    query.load(conn)
}

pub fn find_delivery(conn: &mut AnyConnection, endpoint_id: i64, id: i64) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(id))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()
}

/// Puts a delivery back in the queue, due at `now`, with its id and body:
/// a receiver that already has it recognises it by its id.
pub fn requeue(conn: &mut AnyConnection, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(PENDING),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::leased_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(drop)
}

/// Deletes up to `limit` delivered or failed deliveries queued before
/// `cutoff`; pending ones stay, however old (they are not lost while their
/// endpoint is paused).
pub fn delete_finished_before(conn: &mut AnyConnection, cutoff: NaiveDateTime, limit: i64) -> QueryResult<usize> {
    let ids: Vec<i64> = webhook_deliveries::table
        .filter(webhook_deliveries::status.ne(PENDING))
        .filter(webhook_deliveries::created_at.lt(cutoff))
        .select(webhook_deliveries::id)
        .order(webhook_deliveries::id.asc())
        .limit(limit)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(ids))).execute(conn)
}

/// The active admins holding a post at the community unit.
pub fn admins_of(conn: &mut AnyConnection, community_id: i64) -> QueryResult<Vec<i64>> {
    posts::table
        .inner_join(users::table)
        .filter(posts::unit_id.eq(community_id))
        .filter(users::active.eq(true))
        .filter(users::role.eq("admin"))
        .select(users::id)
        .order(users::id.asc())
        .load(conn)
}
