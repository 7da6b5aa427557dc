//! Newtype ids, so a unit id cannot be passed where a user id is expected.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = i64, example = 1)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Id of a grid unit (committee, branch, building or household).
    UnitId
);
id_type!(
    /// Id of a user account.
    UserId
);
id_type!(
    /// Id of a post (a staff user's position at a unit).
    PostId
);
id_type!(
    /// Id of a ticket (complaint or dispute).
    TicketId
);
