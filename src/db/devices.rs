//! Phones registered for push: a platform's token, owned by one user.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::devices;
use super::stamp::Stamp;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub id: i64,
    pub user_id: i64,
    pub platform: String,
    pub token: String,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

/// Devices one person may register; registering another forgets the one
/// registered longest ago.
pub const MAX_PER_USER: usize = 10;

/// Registers `token` to `user_id`: a token already known (the phone changed
/// hands, or the app registers again) moves to this user. Returns the row
/// and whether it is new to this user.
pub fn register(
    conn: &mut AnyConnection,
    user_id: i64,
    platform: &str,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<(DeviceRow, bool)> {
    let existing: Option<DeviceRow> = devices::table
        .filter(devices::platform.eq(platform))
        .filter(devices::token.eq(token))
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()?;
    let created = existing.is_none_or(|row| row.user_id != user_id);
    // An upsert: two phones racing to register one token cannot both insert it.
    let values = (
        devices::user_id.eq(user_id),
        devices::platform.eq(platform),
        devices::token.eq(token),
        devices::created_at.eq(now),
        devices::updated_at.eq(now),
    );
    super::each_backend!(conn, |c| diesel::insert_into(devices::table)
        .values(values)
        .on_conflict((devices::platform, devices::token))
        .do_update()
        .set((devices::user_id.eq(user_id), devices::updated_at.eq(now)))
        .execute(c))?;
    let mine = of_user(conn, user_id)?;
    if mine.len() > MAX_PER_USER {
        let mut by_age: Vec<&DeviceRow> = mine.iter().collect();
        by_age.sort_by_key(|d| (d.updated_at, d.id));
        let stale: Vec<i64> = by_age[..mine.len() - MAX_PER_USER].iter().map(|d| d.id).collect();
        diesel::delete(devices::table.filter(devices::id.eq_any(stale))).execute(conn)?;
    }
    let row = devices::table
        .filter(devices::platform.eq(platform))
        .filter(devices::token.eq(token))
        .select(DeviceRow::as_select())
        .first(conn)?;
    Ok((row, created))
}

pub fn of_user(conn: &mut AnyConnection, user_id: i64) -> QueryResult<Vec<DeviceRow>> {
    devices::table
        .filter(devices::user_id.eq(user_id))
        .select(DeviceRow::as_select())
        .order(devices::id.asc())
        .load(conn)
}

/// Forgets `user_id`'s device with this token; another person's is left alone.
pub fn forget(conn: &mut AnyConnection, user_id: i64, platform: &str, token: &str) -> QueryResult<usize> {
    diesel::delete(
        devices::table
            .filter(devices::user_id.eq(user_id))
            .filter(devices::platform.eq(platform))
            .filter(devices::token.eq(token)),
    )
    .execute(conn)
}
