//! Who is acting, as policy sees them: a user and the posts they hold. The
//! `Auth` extractor builds one per request; the demo and the services that
//! judge another person (a mediator, say) build them here too.

use crate::db::models::{PostRow, UnitRow, UserRow};
use crate::db::{AnyConnection, queries};
use crate::domain::ids::{UnitId, UserId};
use crate::error::ApiError;
use crate::policy::{Caller, PostScope};

/// The policy view of a user and the posts they hold.
pub fn caller_from(user: &UserRow, posts: Vec<(PostRow, UnitRow)>) -> Caller {
    Caller {
        id: UserId(user.id),
        role: user.role,
        posts: posts
            .into_iter()
            .map(|(_, unit)| PostScope {
                unit_id: UnitId(unit.id),
                level: unit.level,
                path: unit.path,
            })
            .collect(),
    }
}

/// Loads a user as a caller, for work done outside a request (the demo).
pub fn load_caller(conn: &mut AnyConnection, user_id: i64) -> Result<Caller, ApiError> {
    let user = queries::find_user(conn, user_id)?.ok_or(ApiError::NotFound)?;
    let posts = queries::posts_with_units(conn, user_id)?;
    Ok(caller_from(&user, posts))
}
