//! Who decides a request for more time (延期申请).

use super::Caller;
use crate::domain::ids::UserId;

/// Why a caller may not decide a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecideRefused {
    /// Not the level above the unit that asked (a role that may never).
    NotAbove,
    /// The caller asked for it: whoever asks never decides (separation of
    /// duties), whatever posts or role they also hold.
    OwnRequest,
    /// The person who asked set the caller's password (directly, or through
    /// an account whose password they set) and can sign in as the caller: an
    /// admin does not approve their own request through an account they made.
    PasswordKnownToRequester,
}

/// The level above the unit that asked decides: staff working in the parent
/// unit (`parent_path`), or, for a committee (it has no parent), its admins;
/// super-admins anywhere. Never the person who asked (`requested_by`), nor
/// through an account that person can sign in as (`known_to_requester`: they
/// made it, or could sign in as whoever made it, and its holder has not
/// changed the password since), so a committee's request goes to another of
/// its admins or a super-admin.
pub fn may_decide_extension(
    caller: &Caller,
    known_to_requester: bool,
    requested_by: UserId,
    asking_path: &str,
    parent_path: Option<&str>,
) -> Result<(), DecideRefused> {
    let above = match parent_path {
        Some(parent) => caller.works_in(parent),
        None => caller.manages(asking_path),
    };
    if !above {
        Err(DecideRefused::NotAbove)
    } else if caller.id == requested_by {
        Err(DecideRefused::OwnRequest)
    } else if known_to_requester {
        Err(DecideRefused::PasswordKnownToRequester)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::grid::Level;
    use crate::domain::ids::{UnitId, UserId};
    use crate::domain::people::Role;
    use crate::policy::PostScope;

    fn caller(role: Role, posts: &[(Level, &str)]) -> Caller {
        Caller {
            id: UserId(1),
            role,
            posts: posts
                .iter()
                .enumerate()
                .map(|(i, (level, path))| PostScope {
                    unit_id: UnitId(i as i64),
                    level: *level,
                    path: (*path).into(),
                })
                .collect(),
        }
    }

    /// Whether `caller` may decide a request someone else (user 99) made.
    fn decides(caller: &Caller, asking_path: &str, parent_path: Option<&str>) -> bool {
        may_decide_extension(caller, false, UserId(99), asking_path, parent_path).is_ok()
    }

    #[test]
    fn the_level_above_decides() {
        let branch = caller(Role::Staff, &[(Level::Branch, "/1/4/")]);
        let building = caller(Role::Staff, &[(Level::Building, "/1/4/9/")]);
        // A building's request goes to its branch (and anyone above it).
        assert!(decides(&branch, "/1/4/9/", Some("/1/4/")));
        assert!(!decides(&building, "/1/4/9/", Some("/1/4/")));
        assert!(!decides(&branch, "/1/5/9/", Some("/1/5/")));
        let committee_staff = caller(Role::Staff, &[(Level::Committee, "/1/")]);
        assert!(decides(&committee_staff, "/1/4/9/", Some("/1/4/")));
        assert!(!decides(&caller(Role::Resident, &[]), "/1/4/9/", Some("/1/4/")));
    }

    #[test]
    fn a_committees_request_goes_to_its_admins() {
        let committee_staff = caller(Role::Staff, &[(Level::Committee, "/1/")]);
        assert!(!decides(&committee_staff, "/1/", None));
        assert!(decides(&caller(Role::Admin, &[(Level::Committee, "/1/")]), "/1/", None));
        assert!(!decides(
            &caller(Role::Admin, &[(Level::Committee, "/2/")]),
            "/1/",
            None
        ));
        assert!(decides(&caller(Role::Superadmin, &[]), "/1/", None));
    }

    #[test]
    fn whoever_asked_never_decides_at_any_level() {
        // Callers are user 1; here they also asked.
        let asked = UserId(1);
        let both = caller(
            Role::Staff,
            &[(Level::Building, "/1/4/9/"), (Level::Household, "/1/4/9/30/")],
        );
        let committee_staff = caller(Role::Staff, &[(Level::Committee, "/1/")]);
        let admin = caller(Role::Admin, &[(Level::Committee, "/1/")]);
        let root = caller(Role::Superadmin, &[]);
        for (who, asking, parent) in [
            (&both, "/1/4/9/30/", Some("/1/4/9/")),
            (&committee_staff, "/1/4/9/30/", Some("/1/4/9/")),
            (&admin, "/1/4/", Some("/1/")),
            (&admin, "/1/", None),
            (&root, "/1/", None),
            (&root, "/1/4/9/30/", Some("/1/4/9/")),
        ] {
            assert_eq!(
                may_decide_extension(who, false, asked, asking, parent),
                Err(DecideRefused::OwnRequest),
                "{who:?} at {asking}"
            );
            assert_eq!(may_decide_extension(who, false, UserId(2), asking, parent), Ok(()));
            // Nor through an account whose password the asker set, directly or not.
            assert_eq!(
                may_decide_extension(who, true, UserId(2), asking, parent),
                Err(DecideRefused::PasswordKnownToRequester),
                "{who:?} at {asking}"
            );
        }
        // Not being above is the answer first, asker or not.
        let household = caller(Role::Staff, &[(Level::Household, "/1/4/9/30/")]);
        assert_eq!(
            may_decide_extension(&household, false, asked, "/1/4/9/30/", Some("/1/4/9/")),
            Err(DecideRefused::NotAbove)
        );
        assert_eq!(
            may_decide_extension(&committee_staff, false, asked, "/1/", None),
            Err(DecideRefused::NotAbove)
        );
    }
}
