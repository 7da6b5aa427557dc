//! The SQL of the application, written once for both databases.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::AnyConnection;
use super::in_ids::by_ids;
use super::models::*;
use super::schema::{
    audit_log, password_witnesses, posts, refresh_tokens, sessions, settings, ticket_visits, units, users,
};
use crate::domain::grid::is_server_path;
use crate::error::ApiError;

pub type Backend = <AnyConnection as Connection>::Backend;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// `%text%` for a LIKE, with the wildcards in the text escaped by `\`.
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn subtree_pattern(path: &str) -> String {
    format!("{path}%")
}

// ---------------------------------------------------------------- settings

pub fn get_setting(conn: &mut AnyConnection, key: &str) -> QueryResult<Option<String>> {
    settings::table.find(key).select(settings::value).first(conn).optional()
}

/// Stores `value` under `key` unless a value is already there (another
/// replica may have won the race); returns the value that is stored.
pub fn get_or_insert_setting(
    conn: &mut AnyConnection,
    key: &str,
    value: &str,
    now: NaiveDateTime,
) -> QueryResult<String> {
    if let Some(existing) = get_setting(conn, key)? {
        return Ok(existing);
    }
    let inserted = diesel::insert_into(settings::table)
        .values(NewSettingRow {
            key,
            value,
            created_at: now,
        })
        .execute(conn);
    match inserted {
        Ok(_) => Ok(value.to_owned()),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            settings::table.find(key).select(settings::value).first(conn)
        }
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------- units

/// Whether any unit has `id` as its parent.
pub fn has_children(conn: &mut AnyConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(units::table.filter(units::parent_id.eq(id)))).get_result(conn)
}

pub fn find_unit(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<UnitRow>> {
    units::table
        .find(id)
        .select(UnitRow::as_select())
        .first(conn)
        .optional()
}

/// Reads a unit inside a write transaction and keeps it from changing until
/// the transaction ends (`FOR UPDATE` on PostgreSQL; SQLite's write
/// transaction already holds the only write lock).
pub fn lock_unit(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<UnitRow>> {
    match conn {
        AnyConnection::Postgres(pg) => units::table
            .find(id)
            .select(UnitRow::as_select())
            .for_update()
            .first(pg)
            .optional(),
        AnyConnection::Sqlite(_) => find_unit(conn, id),
    }
}

pub fn units_by_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<UnitRow>> {
    units::table
        .filter(units::id.eq_any(ids))
        .select(UnitRow::as_select())
        .load(conn)
}

pub struct NewUnit<'a> {
    pub parent: Option<&'a UnitRow>,
    pub level: &'a str,
    pub name: &'a str,
    pub code: Option<&'a str>,
}

/// Inserts a unit and sets its materialised path (which needs its id).
pub fn insert_unit(conn: &mut AnyConnection, new: NewUnit<'_>, now: NaiveDateTime) -> Result<UnitRow, ApiError> {
    let row: UnitRow = diesel::insert_into(units::table)
        .values(NewUnitRow {
            parent_id: new.parent.map(|p| p.id),
            level: new.level,
            name: new.name,
            code: new.code,
            path: "/",
            created_at: now,
            updated_at: now,
        })
        .returning(units::all_columns)
        .get_result(conn)
        .map_err(unit_code_conflict)?;
    let path = crate::domain::grid::child_path(new.parent.map(|p| p.path.as_str()), row.id);
    Ok(diesel::update(units::table.find(row.id))
        .set(units::path.eq(path))
        .returning(units::all_columns)
        .get_result(conn)?)
}

fn unit_code_conflict(error: diesel::result::Error) -> ApiError {
    match error {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
            ApiError::conflict(
                "unit_code_taken",
                "Another unit already uses this code (field `code`).",
                "该编码（code 字段）已被其他单元使用。",
            )
        }
        other => other.into(),
    }
}

/// Which household units a caller sees: committees, branches and buildings
/// are public (the registration picker), households are not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Households {
    /// None (anonymous callers).
    Hidden,
    /// Those of the communities rooted at these paths (`/1/`).
    Within(Vec<String>),
    /// All (super-admins).
    All,
}

impl Households {
    pub fn include(&self, unit: &UnitRow) -> bool {
        unit.level != crate::domain::grid::Level::Household
            || match self {
                Self::Hidden => false,
                Self::Within(roots) => roots.iter().any(|r| unit.path.starts_with(r.as_str())),
                Self::All => true,
            }
    }
}

pub struct UnitFilter<'a> {
    pub parent_id: Option<i64>,
    pub level: Option<&'a str>,
    pub q: Option<&'a str>,
    pub households: Households,
    pub after_id: Option<i64>,
    pub limit: i64,
}

pub fn list_units(conn: &mut AnyConnection, filter: &UnitFilter<'_>) -> QueryResult<Vec<UnitRow>> {
    let mut query = units::table
        .select(UnitRow::as_select())
        .order(units::id.asc())
        .limit(filter.limit)
        .into_boxed();
    if let Some(parent_id) = filter.parent_id {
        query = query.filter(units::parent_id.eq(parent_id));
    }
    if let Some(level) = filter.level {
        query = query.filter(units::level.eq(level.to_owned()));
    }
    match &filter.households {
        Households::Hidden => query = query.filter(units::level.ne("household")),
        Households::All => {}
        Households::Within(roots) => {
            // Server-made paths only, so they can stand in the SQL text.
            let mut visible = String::from("units.level <> 'household'");
            for root in roots.iter().filter(|r| is_server_path(r)) {
                visible.push_str(&format!(" OR units.path LIKE '{root}%'"));
            }
            query = query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("({visible})")));
        }
    }
    if let Some(q) = filter.q {
        let pattern = contains_pattern(q);
        query = query.filter(
            lower(units::name)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(units::code.assume_not_null()).like(pattern).escape('\\')),
        );
    }
    if let Some(after) = filter.after_id {
        query = query.filter(units::id.gt(after));
    }
    query.load(conn)
}

/// A unit and everything below it, ordered by id.
pub fn subtree(conn: &mut AnyConnection, path: &str, public_only: bool) -> QueryResult<Vec<UnitRow>> {
    let mut query = units::table
        .select(UnitRow::as_select())
        .filter(units::path.like(subtree_pattern(path)))
        .order(units::id.asc())
        .into_boxed();
    if public_only {
        query = query.filter(units::level.ne("household"));
    }
    query.load(conn)
}

#[derive(Debug, Default, Clone, Copy)]
pub struct UnitUsage {
    pub children: i64,
    pub posts: i64,
    pub residents: i64,
    /// Tickets that are or have been at the unit: their history names it.
    pub tickets: i64,
    /// Audit entries filed under the unit (a community): the trail is kept.
    pub audit_entries: i64,
}

impl UnitUsage {
    pub fn is_empty(&self) -> bool {
        self.children == 0 && self.posts == 0 && self.residents == 0 && self.tickets == 0 && self.audit_entries == 0
    }
}

pub fn unit_usage(conn: &mut AnyConnection, id: i64) -> QueryResult<UnitUsage> {
    Ok(UnitUsage {
        children: units::table
            .filter(units::parent_id.eq(id))
            .select(count_star())
            .first(conn)?,
        posts: posts::table
            .filter(posts::unit_id.eq(id))
            .select(count_star())
            .first(conn)?,
        residents: users::table
            .filter(users::building_id.eq(id).or(users::household_id.eq(id)))
            .select(count_star())
            .first(conn)?,
        tickets: ticket_visits::table
            .filter(ticket_visits::unit_id.eq(id))
            .select(count_star())
            .first(conn)?,
        audit_entries: audit_log::table
            .filter(audit_log::community_id.eq(id))
            .select(count_star())
            .first(conn)?,
    })
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = units)]
pub struct UnitChanges {
    pub name: Option<String>,
    pub code: Option<Option<String>>,
    pub parent_id: Option<Option<i64>>,
    pub path: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn update_unit(conn: &mut AnyConnection, id: i64, changes: &UnitChanges) -> Result<UnitRow, ApiError> {
    diesel::update(units::table.find(id))
        .set(changes)
        .returning(units::all_columns)
        .get_result(conn)
        .map_err(unit_code_conflict)
}

pub fn delete_unit(conn: &mut AnyConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(units::table.find(id)).execute(conn)
}

// ---------------------------------------------------------------- users

pub fn find_user(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// A user with the units of their home: building and household.
pub type UserAtHome = (UserRow, Option<UnitRow>, Option<UnitRow>);

/// A user with the units of their home (a resident's), in one query.
pub fn find_user_at_home(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<UserAtHome>> {
    let (building, household) = diesel::alias!(units as building, units as household);
    users::table
        .left_join(building.on(building.field(units::id).nullable().eq(users::building_id)))
        .left_join(household.on(household.field(units::id).nullable().eq(users::household_id)))
        .filter(users::id.eq(id))
        .select((
            UserRow::as_select(),
            building
                .fields(<UnitRow as Selectable<<AnyConnection as Connection>::Backend>>::construct_selection())
                .nullable(),
            household
                .fields(<UnitRow as Selectable<<AnyConnection as Connection>::Backend>>::construct_selection())
                .nullable(),
        ))
        .first(conn)
        .optional()
}

/// Locks a user's row (`FOR UPDATE` on PostgreSQL; SQLite's write
/// transaction holds the whole database), so a check over their posts holds
/// until the transaction ends.
pub fn lock_user(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<UserRow>> {
    match conn {
        AnyConnection::Postgres(pg) => users::table
            .find(id)
            .select(UserRow::as_select())
            .for_update()
            .first(pg)
            .optional(),
        AnyConnection::Sqlite(_) => find_user(conn, id),
    }
}

/// Records that whoever made account `user_id` (`creator`), and everyone
/// who could sign in as the creator, can sign in as it: they chose or could
/// have chosen its password.
pub fn add_password_witnesses(conn: &mut AnyConnection, user_id: i64, creator: i64) -> QueryResult<()> {
    let mut witnesses: Vec<i64> = password_witnesses::table
        .filter(password_witnesses::user_id.eq(creator))
        .select(password_witnesses::witness_id)
        .load(conn)?;
    witnesses.push(creator);
    witnesses.sort_unstable();
    witnesses.dedup();
    for witness in witnesses.into_iter().filter(|w| *w != user_id) {
        diesel::insert_into(password_witnesses::table)
            .values((
                password_witnesses::user_id.eq(user_id),
                password_witnesses::witness_id.eq(witness),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The holder chose a new password: nobody else knows it.
pub fn forget_password_witnesses(conn: &mut AnyConnection, user_id: i64) -> QueryResult<()> {
    diesel::delete(password_witnesses::table.filter(password_witnesses::user_id.eq(user_id)))
        .execute(conn)
        .map(drop)
}

/// Whether `witness` can sign in as account `user_id` (see
/// [`add_password_witnesses`]).
pub fn password_known_to(conn: &mut AnyConnection, user_id: i64, witness: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(password_witnesses::table.find((user_id, witness)))).get_result(conn)
}

pub fn users_by_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<UserRow>> {
    by_ids!(conn, users::id, ids, users::table.select(UserRow::as_select()))
}

pub fn find_user_by_username(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_user(conn: &mut AnyConnection, new: &NewUserRow<'_>) -> Result<UserRow, ApiError> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(users::all_columns)
        .get_result(conn)
        .map_err(|error| match error {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::conflict(
                    "username_taken",
                    "This username is already taken (field `username`).",
                    "该用户名（username 字段）已被使用。",
                )
            }
            other => other.into(),
        })
}

/// Whose accounts a caller may see: everything, or the users tied to the
/// subtrees at `prefixes` (residents living there, staff holding posts
/// there) plus the unassigned staff accounts the caller created.
pub enum UserScope {
    All,
    /// Tied to the subtrees at `prefixes`; or holding no post and created by
    /// `creator` or last serving one of `communities`.
    Subtrees {
        prefixes: Vec<String>,
        creator: i64,
        communities: Vec<i64>,
    },
}

pub struct UserFilter<'a> {
    pub id: Option<i64>,
    pub role: Option<&'a str>,
    /// Path of a unit: users living in or holding posts in its subtree.
    pub unit_path: Option<&'a str>,
    pub q: Option<&'a str>,
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// SQL for "tied to one of these subtrees": living in a building there, or
/// holding a post there. Paths are generated by the server and hold only
/// digits and `/`, so they are written into the SQL; anything else is dropped.
/// (Boxed, bound sub-selects do not compile for `MultiConnection`.)
/// Users living in (or served by a household in) the subtrees, or holding
/// posts there.
fn tied_to_subtrees_sql(prefixes: &[String]) -> String {
    let likes: Vec<String> = prefixes
        .iter()
        .filter(|p| crate::domain::grid::is_server_path(p))
        .map(|p| format!("units.path LIKE '{p}%'"))
        .collect();
    if likes.is_empty() {
        return "1 = 0".to_owned();
    }
    let any = likes.join(" OR ");
    format!(
        "(users.building_id IN (SELECT units.id FROM units WHERE {any}) \
         OR users.household_id IN (SELECT units.id FROM units WHERE {any}) \
         OR users.id IN (SELECT posts.user_id FROM posts JOIN units ON units.id = posts.unit_id WHERE {any}))"
    )
}

pub fn list_users(conn: &mut AnyConnection, scope: &UserScope, filter: &UserFilter<'_>) -> QueryResult<Vec<UserRow>> {
    let mut query = users::table
        .select(UserRow::as_select())
        .order(users::id.asc())
        .limit(filter.limit)
        .into_boxed();
    if let UserScope::Subtrees {
        prefixes,
        creator,
        communities,
    } = scope
    {
        // Ids only are written into the SQL.
        let last_served = if communities.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = communities.iter().map(i64::to_string).collect();
            format!(" OR users.last_community_id IN ({})", ids.join(", "))
        };
        let condition = format!(
            "({} OR ((users.created_by = {creator}{last_served}) AND NOT EXISTS (SELECT 1 FROM posts WHERE posts.user_id = users.id)))",
            tied_to_subtrees_sql(prefixes)
        );
        query = query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&condition));
    }
    if let Some(id) = filter.id {
        query = query.filter(users::id.eq(id));
    }
    if let Some(role) = filter.role {
        query = query.filter(users::role.eq(role.to_owned()));
    }
    if let Some(path) = filter.unit_path {
        query = query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&tied_to_subtrees_sql(&[
            path.to_owned(),
        ])));
    }
    if let Some(q) = filter.q {
        let pattern = contains_pattern(q);
        query = query.filter(
            lower(users::username)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(users::display_name).like(pattern).escape('\\')),
        );
    }
    if let Some(after) = filter.after_id {
        query = query.filter(users::id.gt(after));
    }
    query.load(conn)
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub phone: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub active: Option<bool>,
    pub household_id: Option<Option<i64>>,
    pub updated_at: Option<NaiveDateTime>,
}

/// Changes an account. A new name is also what the search index finds the
/// tickets they reported by, in the same transaction.
pub fn update_user(conn: &mut AnyConnection, id: i64, changes: &UserChanges) -> QueryResult<UserRow> {
    let row: UserRow = diesel::update(users::table.find(id))
        .set(changes)
        .returning(users::all_columns)
        .get_result(conn)?;
    // Spelled out so that a new field (a room, say) has to be decided on here.
    let UserChanges {
        display_name,
        phone: _,
        password_hash: _,
        active: _,
        household_id: _,
        updated_at: _,
    } = changes;
    if display_name.is_some() {
        super::tickets::search::reindex_reporter(conn, id)?;
    }
    Ok(row)
}

/// Ends every session of a user at once: access tokens carry the version.
/// Their phones are forgotten too (a phone signed out is told nothing; the
/// app registers its token again after signing in).
pub fn revoke_all_sessions(conn: &mut AnyConnection, user_id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(super::schema::devices::table.filter(super::schema::devices::user_id.eq(user_id))).execute(conn)?;
    diesel::update(users::table.find(user_id))
        .set(users::token_version.eq(users::token_version + 1))
        .execute(conn)?;
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)?;
    Ok(())
}

// ---------------------------------------------------------------- posts

/// The posts a user holds, with their units.
pub fn posts_with_units(conn: &mut AnyConnection, user_id: i64) -> QueryResult<Vec<(PostRow, UnitRow)>> {
    posts::table
        .inner_join(units::table)
        .filter(posts::user_id.eq(user_id))
        .order(posts::id.asc())
        .select((PostRow::as_select(), UnitRow::as_select()))
        .load(conn)
}

pub fn posts_with_units_of_users(conn: &mut AnyConnection, user_ids: &[i64]) -> QueryResult<Vec<(PostRow, UnitRow)>> {
    posts::table
        .inner_join(units::table)
        .filter(posts::user_id.eq_any(user_ids))
        .order(posts::id.asc())
        .select((PostRow::as_select(), UnitRow::as_select()))
        .load(conn)
}

pub fn insert_post(
    conn: &mut AnyConnection,
    user_id: i64,
    unit_id: i64,
    now: NaiveDateTime,
) -> Result<PostRow, ApiError> {
    diesel::insert_into(posts::table)
        .values(NewPostRow {
            user_id,
            unit_id,
            created_at: now,
        })
        .returning(posts::all_columns)
        .get_result(conn)
        .map_err(|error| match error {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::conflict(
                    "post_exists",
                    "This user already holds a post at this unit (field `user_id`).",
                    "该用户已在此单元任职（user_id 字段）。",
                )
            }
            other => other.into(),
        })
}

pub fn list_posts_of_unit(
    conn: &mut AnyConnection,
    unit_id: i64,
    after_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<(PostRow, UserRow)>> {
    let mut query = posts::table
        .inner_join(users::table)
        .filter(posts::unit_id.eq(unit_id))
        .order(posts::id.asc())
        .limit(limit)
        .select((PostRow::as_select(), UserRow::as_select()))
        .into_boxed();
    if let Some(after) = after_id {
        query = query.filter(posts::id.gt(after));
    }
    query.load(conn)
}

pub fn find_post(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<(PostRow, UnitRow)>> {
    posts::table
        .inner_join(units::table)
        .filter(posts::id.eq(id))
        .select((PostRow::as_select(), UnitRow::as_select()))
        .first(conn)
        .optional()
}

/// Removes a post. An account left with no post keeps the community of
/// this one, so that community's admins still list it.
pub fn delete_post(conn: &mut AnyConnection, id: i64) -> QueryResult<usize> {
    let Some((post, unit)) = find_post(conn, id)? else {
        return Ok(0);
    };
    let deleted = diesel::delete(posts::table.find(id)).execute(conn)?;
    let left: i64 = posts::table
        .filter(posts::user_id.eq(post.user_id))
        .count()
        .get_result(conn)?;
    if left == 0 {
        diesel::update(users::table.find(post.user_id))
            .set(users::last_community_id.eq(crate::domain::grid::community_of(&unit.path)))
            .execute(conn)?;
    }
    Ok(deleted)
}

// ---------------------------------------------------------------- sessions

/// Stores a session under `id`, the hash of its secret (`secrets::session_id`).
pub fn insert_session(conn: &mut AnyConnection, id: &str, user_id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(SessionRow {
            id: id.to_owned(),
            user_id,
            created_at: now,
            revoked_at: None,
        })
        .execute(conn)
        .map(drop)
}

/// The user behind an access token, if its session is still open.
/// `session_id` is the stored id: the hash of the token's `sid`.
pub fn active_session_user(conn: &mut AnyConnection, session_id: &str, user_id: i64) -> QueryResult<Option<UserRow>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// Deletes up to `limit` sessions that ended before `cutoff` (revoked then,
/// or whose every refresh token had expired by then), with their refresh
/// tokens. Nothing of theirs can be used any more, so nothing is lost.
/// Returns how many sessions went.
pub fn delete_dead_sessions(conn: &mut AnyConnection, cutoff: NaiveDateTime, limit: i64) -> QueryResult<usize> {
    let alive = refresh_tokens::table
        .filter(refresh_tokens::session_id.eq(sessions::id))
        .filter(refresh_tokens::expires_at.ge(cutoff));
    let dead: Vec<String> = sessions::table
        .filter(
            sessions::revoked_at
                .lt(cutoff)
                .or(diesel::dsl::not(diesel::dsl::exists(alive))),
        )
        .filter(sessions::created_at.lt(cutoff))
        .select(sessions::id)
        .limit(limit)
        .load(conn)?;
    if dead.is_empty() {
        return Ok(0);
    }
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq_any(&dead))).execute(conn)?;
    diesel::delete(sessions::table.filter(sessions::id.eq_any(&dead))).execute(conn)
}

pub fn revoke_session(conn: &mut AnyConnection, session_id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(sessions::table.find(session_id).filter(sessions::revoked_at.is_null()))
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
}

pub fn insert_refresh_token(
    conn: &mut AnyConnection,
    session_id: &str,
    token_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(NewRefreshTokenRow {
            session_id,
            token_hash,
            created_at: now,
            expires_at,
        })
        .execute(conn)
        .map(drop)
}

pub enum RefreshOutcome {
    /// The token was fresh and is now spent, its successor stored; its
    /// session's user.
    Spent { user: Box<UserRow> },
    /// The token was spent within the grace window before: its successor
    /// then, still sealed (`secrets::open_successor`), and the user.
    Repeated {
        user: Box<UserRow>,
        sealed_successor: String,
    },
    /// The token was spent before the grace window: its session has been
    /// revoked.
    Replayed,
    /// Unknown, expired, or its session is closed.
    Invalid,
}

/// The refresh token that replaces a spent one.
pub struct Successor {
    pub token_hash: String,
    /// The successor sealed with the spent token (`secrets::seal_successor`).
    pub sealed: String,
    pub expires_at: NaiveDateTime,
}

/// Spends a refresh token exactly once, storing `successor` in its place.
/// The same token again within `grace` of its spending gets the successor
/// stored then (two refreshes racing, a retry after a lost answer); later
/// (a replay, or a thief racing the owner) it revokes the whole session.
/// `session_id` is the stored id of the session the token names (the hash
/// of the secret it starts with); a token of another session is unknown.
pub fn spend_refresh_token(
    conn: &mut AnyConnection,
    token_hash: &str,
    session_id: &str,
    successor: &Successor,
    now: NaiveDateTime,
    grace: chrono::Duration,
) -> QueryResult<RefreshOutcome> {
    let found: Option<(RefreshTokenRow, SessionRow)> = refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .filter(refresh_tokens::session_id.eq(session_id))
        .select((RefreshTokenRow::as_select(), SessionRow::as_select()))
        .first(conn)
        .optional()?;
    let Some((token, session)) = found else {
        return Ok(RefreshOutcome::Invalid);
    };
    if session.revoked_at.is_some() {
        return Ok(RefreshOutcome::Invalid);
    }
    // The conditional update is the single point of truth: of two concurrent
    // uses, only one sees `used_at IS NULL`. (On PostgreSQL the other waits
    // for the first to commit, then reads what it stored, below.)
    let claimed = diesel::update(
        refresh_tokens::table
            .find(token.id)
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)?;
    if claimed == 0 {
        let (used_at, sealed): (Option<NaiveDateTime>, Option<String>) = refresh_tokens::table
            .find(token.id)
            .select((refresh_tokens::used_at, refresh_tokens::sealed_successor))
            .first(conn)?;
        // A spend that failed (expired token, deactivated account) sealed
        // nothing: its repetition is a replay like any other.
        let within_grace = used_at.is_some_and(|used_at| now - used_at <= grace);
        if let (true, Some(sealed_successor)) = (within_grace, sealed) {
            return Ok(match active_session_user(conn, &session.id, session.user_id)? {
                Some(user) if user.active => RefreshOutcome::Repeated {
                    user: Box::new(user),
                    sealed_successor,
                },
                _ => RefreshOutcome::Invalid,
            });
        }
        revoke_session(conn, &session.id, now)?;
        return Ok(RefreshOutcome::Replayed);
    }
    if token.expires_at <= now {
        return Ok(RefreshOutcome::Invalid);
    }
    let Some(user) = active_session_user(conn, &session.id, session.user_id)?.filter(|user| user.active) else {
        return Ok(RefreshOutcome::Invalid);
    };
    diesel::update(refresh_tokens::table.find(token.id))
        .set(refresh_tokens::sealed_successor.eq(&successor.sealed))
        .execute(conn)?;
    insert_refresh_token(conn, session_id, &successor.token_hash, now, successor.expires_at)?;
    Ok(RefreshOutcome::Spent { user: Box::new(user) })
}

#[cfg(test)]
mod tests {
    use super::{contains_pattern, tied_to_subtrees_sql};

    #[test]
    fn scope_sql_only_takes_server_made_paths() {
        assert_eq!(tied_to_subtrees_sql(&[]), "1 = 0");
        assert_eq!(tied_to_subtrees_sql(&["/1/' OR 1=1 --".into()]), "1 = 0");
        assert!(tied_to_subtrees_sql(&["/1/4/".into()]).contains("units.path LIKE '/1/4/%'"));
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("Ab"), "%ab%");
        assert_eq!(contains_pattern("50%_x\\"), "%50\\%\\_x\\\\%");
        assert_eq!(contains_pattern("军门"), "%军门%");
    }
}
