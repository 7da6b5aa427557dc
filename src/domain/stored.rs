//! Enums the database stores as text. Rows are parsed into them once, where
//! diesel reads the row (`#[diesel(deserialize_as = String)]`), so no later
//! use re-parses a string; a value the code does not know fails the read.

use std::fmt;

/// A stored name that is not one of the enum's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?} in the database", self.what, self.value)
    }
}

impl std::error::Error for UnknownName {}

/// `TryFrom<String>` (reading a row) and `From<T> for String` (writing one)
/// for an enum with `parse` and `as_str`.
macro_rules! stored_as_text {
    ($ty:ty, $what:literal) => {
        impl TryFrom<String> for $ty {
            type Error = $crate::domain::stored::UnknownName;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                <$ty>::parse(&value).ok_or($crate::domain::stored::UnknownName { what: $what, value })
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> Self {
                value.as_str().to_owned()
            }
        }
    };
}

pub(crate) use stored_as_text;

#[cfg(test)]
mod tests {
    use crate::domain::grid::Level;
    use crate::domain::people::Role;
    use crate::domain::ticket::{Action, EventKind, Kind, Priority, Status};

    #[test]
    fn every_stored_name_reads_back_as_itself() {
        for s in Status::ALL {
            assert_eq!(Status::try_from(String::from(s)), Ok(s));
        }
        for k in Kind::ALL {
            assert_eq!(Kind::try_from(String::from(k)), Ok(k));
        }
        for p in Priority::ALL {
            assert_eq!(Priority::try_from(String::from(p)), Ok(p));
        }
        for l in Level::ALL {
            assert_eq!(Level::try_from(String::from(l)), Ok(l));
        }
        for k in EventKind::ALL {
            assert_eq!(EventKind::try_from(String::from(k)), Ok(k));
        }
        // Each step writes its action's name as the event's kind.
        for a in Action::ALL {
            assert_eq!(EventKind::parse(a.as_str()).map(EventKind::as_str), Some(a.as_str()));
        }
        for r in Role::ALL {
            assert_eq!(Role::try_from(String::from(r)), Ok(r));
        }
        let unknown = Status::try_from("open".to_owned()).unwrap_err();
        assert_eq!(unknown.to_string(), "unknown status \"open\" in the database");
    }
}
