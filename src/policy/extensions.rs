//! Who decides a request for more time (延期申请).

use super::Caller;

/// The level above the unit that asked decides: staff working in the parent
/// unit (`parent_path`), or, for a committee (it has no parent), its admins.
pub fn may_decide_extension(caller: &Caller, asking_path: &str, parent_path: Option<&str>) -> bool {
    match parent_path {
        Some(parent) => caller.works_in(parent),
        None => caller.manages(asking_path),
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

    #[test]
    fn the_level_above_decides() {
        let branch = caller(Role::Staff, &[(Level::Branch, "/1/4/")]);
        let building = caller(Role::Staff, &[(Level::Building, "/1/4/9/")]);
        // A building's request goes to its branch (and anyone above it).
        assert!(may_decide_extension(&branch, "/1/4/9/", Some("/1/4/")));
        assert!(!may_decide_extension(&building, "/1/4/9/", Some("/1/4/")));
        assert!(!may_decide_extension(&branch, "/1/5/9/", Some("/1/5/")));
        let committee_staff = caller(Role::Staff, &[(Level::Committee, "/1/")]);
        assert!(may_decide_extension(&committee_staff, "/1/4/9/", Some("/1/4/")));
        assert!(!may_decide_extension(
            &caller(Role::Resident, &[]),
            "/1/4/9/",
            Some("/1/4/")
        ));
    }

    #[test]
    fn a_committees_request_goes_to_its_admins() {
        let committee_staff = caller(Role::Staff, &[(Level::Committee, "/1/")]);
        assert!(!may_decide_extension(&committee_staff, "/1/", None));
        assert!(may_decide_extension(
            &caller(Role::Admin, &[(Level::Committee, "/1/")]),
            "/1/",
            None
        ));
        assert!(!may_decide_extension(
            &caller(Role::Admin, &[(Level::Committee, "/2/")]),
            "/1/",
            None
        ));
        assert!(may_decide_extension(&caller(Role::Superadmin, &[]), "/1/", None));
    }
}
