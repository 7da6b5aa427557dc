//! Who may read and change accounts (PRODUCT: "Who may see and do what").

use super::Caller;
use crate::domain::ids::UserId;
use crate::domain::people::Role;

/// Whose accounts a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountScope {
    /// Every account.
    All,
    /// The people tied to the subtrees at these paths (residents living
    /// there, staff and admins holding posts there), plus the accounts without
    /// a post that `created_by` made, if set, or that last served one of
    /// `communities`.
    Subtrees {
        paths: Vec<String>,
        created_by: Option<UserId>,
        communities: Vec<i64>,
    },
}

/// Whose accounts `caller` may list: a super-admin everyone's; admins and
/// staff the people of their subtrees; admins also the accounts without a
/// post that they created (so that they can give them one) or that last
/// served their communities (so that removing a last post does not hide
/// someone). Residents list no one.
pub fn listable_accounts(caller: &Caller) -> Option<AccountScope> {
    match caller.role {
        Role::Superadmin => Some(AccountScope::All),
        Role::Admin => {
            let mut communities: Vec<i64> = caller
                .posts
                .iter()
                .filter_map(|p| crate::domain::grid::community_of(&p.path))
                .collect();
            communities.sort_unstable();
            communities.dedup();
            Some(AccountScope::Subtrees {
                paths: caller.scope_paths(),
                created_by: Some(caller.id),
                communities,
            })
        }
        Role::Staff => Some(AccountScope::Subtrees {
            paths: caller.scope_paths(),
            created_by: None,
            communities: Vec::new(),
        }),
        Role::Resident => None,
    }
}

/// Which accounts `caller` may read when asking for `account`: themselves
/// always, anyone else as in lists. `None`: not even that one (a 404).
pub fn readable_account(caller: &Caller, account: UserId) -> Option<AccountScope> {
    if caller.id == account {
        Some(AccountScope::All)
    } else {
        listable_accounts(caller)
    }
}

/// Which fields a change to an account touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// Only the household that serves a resident.
    HouseholdOnly,
    /// Display name, phone or `active` (with or without the household).
    Profile,
}

/// Where an account belongs: a resident's home building, the units of a
/// staff member's or admin's posts.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountTies<'a> {
    pub home_path: Option<&'a str>,
    pub post_paths: &'a [String],
}

/// Whether `caller` may make `change` to an account they can read
/// (`readable_account`). A super-admin changes any account; an admin the
/// residents living in their communities and the staff and admins whose
/// every post lies in their communities (or who hold none yet): one
/// community's admin does not rename, renumber or deactivate someone who
/// also serves another community. Staff at branch level or above change only
/// the household of residents in their subtree (`Caller::maintains_coverage`).
pub fn may_change_account(caller: &Caller, ties: AccountTies<'_>, change: AccountChange) -> bool {
    let home_path = ties.home_path;
    let manages = match caller.role {
        Role::Superadmin => true,
        Role::Admin => {
            home_path.is_none_or(|path| caller.manages(path)) && ties.post_paths.iter().all(|p| caller.manages(p))
        }
        Role::Staff | Role::Resident => false,
    };
    let keeps_coverage = home_path.is_some_and(|path| caller.maintains_coverage(path));
    manages || (change == AccountChange::HouseholdOnly && keeps_coverage)
}

/// Whether an account of this role is served by a household (党员中心户):
/// residents only.
pub fn served_by_household(role: Role) -> bool {
    role == Role::Resident
}

/// Whether an account is shown with its posts: every account but a
/// resident's (residents never hold one, so their rows skip the lookup).
pub fn shows_posts(role: Role) -> bool {
    role != Role::Resident
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::grid::Level;
    use crate::domain::ids::UnitId;
    use crate::policy::PostScope;

    fn caller(role: Role, posts: &[(Level, &str)]) -> Caller {
        Caller {
            id: UserId(5),
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
    fn lists_are_scoped_by_role() {
        assert_eq!(
            listable_accounts(&caller(Role::Superadmin, &[])),
            Some(AccountScope::All)
        );
        assert_eq!(
            listable_accounts(&caller(
                Role::Admin,
                &[(Level::Committee, "/3/"), (Level::Committee, "/1/")]
            )),
            Some(AccountScope::Subtrees {
                paths: vec!["/3/".into(), "/1/".into()],
                created_by: Some(UserId(5)),
                communities: vec![1, 3],
            })
        );
        assert_eq!(
            listable_accounts(&caller(
                Role::Staff,
                &[(Level::Branch, "/1/4/"), (Level::Building, "/2/7/9/")]
            )),
            Some(AccountScope::Subtrees {
                paths: vec!["/1/4/".into(), "/2/7/9/".into()],
                created_by: None,
                communities: vec![],
            })
        );
        assert_eq!(listable_accounts(&caller(Role::Resident, &[])), None);
    }

    #[test]
    fn an_admin_without_posts_lists_only_the_accounts_they_created() {
        assert_eq!(
            listable_accounts(&caller(Role::Admin, &[])),
            Some(AccountScope::Subtrees {
                paths: vec![],
                created_by: Some(UserId(5)),
                communities: vec![],
            })
        );
    }

    #[test]
    fn everyone_reads_their_own_account() {
        for role in Role::ALL {
            let me = caller(role, &[]);
            assert_eq!(readable_account(&me, UserId(5)), Some(AccountScope::All), "{role:?}");
            assert_eq!(readable_account(&me, UserId(6)), listable_accounts(&me), "{role:?}");
        }
        assert_eq!(readable_account(&caller(Role::Resident, &[]), UserId(6)), None);
    }

    fn home(path: &str) -> AccountTies<'_> {
        AccountTies {
            home_path: Some(path),
            post_paths: &[],
        }
    }

    fn posts(paths: &[String]) -> AccountTies<'_> {
        AccountTies {
            home_path: None,
            post_paths: paths,
        }
    }

    #[test]
    fn admins_change_accounts_of_their_communities() {
        use AccountChange::{HouseholdOnly, Profile};
        let admin = caller(Role::Admin, &[(Level::Committee, "/1/")]);
        for change in [HouseholdOnly, Profile] {
            assert!(may_change_account(&admin, home("/1/4/9/"), change));
            assert!(!may_change_account(&admin, home("/2/7/9/"), change));
            // Staff and admin accounts have no home: their posts decide.
            assert!(
                may_change_account(&admin, AccountTies::default(), change),
                "no post yet"
            );
            let ours = ["/1/4/".to_owned(), "/1/5/9/".to_owned()];
            assert!(may_change_account(&admin, posts(&ours), change));
            let shared = ["/1/4/".to_owned(), "/2/7/".to_owned()];
            assert!(
                !may_change_account(&admin, posts(&shared), change),
                "also serves another community"
            );
            let theirs = ["/2/7/".to_owned()];
            assert!(!may_change_account(&admin, posts(&theirs), change));
            let superadmin = caller(Role::Superadmin, &[]);
            assert!(may_change_account(&superadmin, home("/2/7/9/"), change));
            assert!(may_change_account(&superadmin, posts(&shared), change));
        }
    }

    #[test]
    fn branch_staff_change_only_households_in_their_subtree() {
        use AccountChange::{HouseholdOnly, Profile};
        let branch = caller(Role::Staff, &[(Level::Branch, "/1/4/")]);
        assert!(may_change_account(&branch, home("/1/4/9/"), HouseholdOnly));
        assert!(!may_change_account(&branch, home("/1/4/9/"), Profile));
        assert!(!may_change_account(&branch, home("/1/5/9/"), HouseholdOnly));
        assert!(!may_change_account(&branch, AccountTies::default(), HouseholdOnly));
        let committee = caller(Role::Staff, &[(Level::Committee, "/1/")]);
        assert!(may_change_account(&committee, home("/1/4/9/"), HouseholdOnly));
        assert!(!may_change_account(&committee, home("/1/4/9/"), Profile));
        let building = caller(Role::Staff, &[(Level::Building, "/1/4/9/")]);
        assert!(!may_change_account(&building, home("/1/4/9/"), HouseholdOnly));
    }

    #[test]
    fn residents_change_no_account() {
        let resident = caller(Role::Resident, &[(Level::Committee, "/1/")]);
        for home in [Some("/1/4/9/"), None] {
            for change in [AccountChange::HouseholdOnly, AccountChange::Profile] {
                assert!(!may_change_account(
                    &resident,
                    AccountTies {
                        home_path: home,
                        post_paths: &[]
                    },
                    change
                ));
            }
        }
    }

    #[test]
    fn only_residents_are_served_by_households_and_shown_without_posts() {
        for (role, served, posts) in [
            (Role::Resident, true, false),
            (Role::Staff, false, true),
            (Role::Admin, false, true),
            (Role::Superadmin, false, true),
        ] {
            assert_eq!(served_by_household(role), served, "{role:?}");
            assert_eq!(shows_posts(role), posts, "{role:?}");
        }
    }
}
