//! Who may see and do what. Pure functions over plain data.

pub mod accounts;
pub mod audit;
pub mod extensions;
pub mod mediation;
pub mod tickets;

use crate::domain::grid::{Level, in_subtree};
use crate::domain::ids::{UnitId, UserId};
use crate::domain::people::Role;

/// A post the caller holds: the unit and its materialised path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostScope {
    pub unit_id: UnitId,
    pub level: Level,
    pub path: String,
}

/// The signed-in caller, as policy sees them.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: UserId,
    pub role: Role,
    pub posts: Vec<PostScope>,
}

impl Caller {
    pub fn is_superadmin(&self) -> bool {
        self.role == Role::Superadmin
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Superadmin)
    }

    /// Roots of the subtrees this caller works in (staff and admins).
    pub fn scope_paths(&self) -> Vec<String> {
        if self.role.holds_posts() {
            self.posts.iter().map(|p| p.path.clone()).collect()
        } else {
            Vec::new()
        }
    }

    /// Whether the unit at `path` lies inside one of the caller's posts.
    pub fn works_in(&self, path: &str) -> bool {
        self.is_superadmin() || (self.role.holds_posts() && self.posts.iter().any(|p| in_subtree(path, &p.path)))
    }

    /// Whether the caller administers the unit at `path`: a super-admin
    /// everywhere, an admin inside the communities where they hold posts.
    pub fn manages(&self, path: &str) -> bool {
        match self.role {
            Role::Superadmin => true,
            Role::Admin => self.posts.iter().any(|p| in_subtree(path, &p.path)),
            Role::Staff | Role::Resident => false,
        }
    }

    /// Whether the caller may reassign residents' households under `path`:
    /// admins, and staff at branch level or above (PRODUCT: "admins and
    /// branch staff maintain that coverage").
    pub fn maintains_coverage(&self, path: &str) -> bool {
        self.manages(path)
            || (self.role == Role::Staff
                && self
                    .posts
                    .iter()
                    .any(|p| p.level <= Level::Branch && in_subtree(path, &p.path)))
    }

    /// Whether the caller sees phone numbers unmasked: admins and
    /// committee-level staff (PRODUCT: privacy).
    pub fn sees_full_phones(&self) -> bool {
        self.is_admin() || (self.role == Role::Staff && self.posts.iter().any(|p| p.level == Level::Committee))
    }
}

/// Where a user may hold a post: staff anywhere, admins only at committee
/// units (an admin's post names the community they manage).
pub fn may_hold_post_at(role: Role, level: Level) -> bool {
    match role {
        Role::Staff => true,
        Role::Admin => level == Level::Committee,
        Role::Resident | Role::Superadmin => false,
    }
}

/// Whether removing a post held by `holder`, who holds `holder_posts` in
/// all, would be the caller removing their own last post: an admin would
/// leave every community they manage on their own say, with no one else
/// deciding it (separation of duties). Another admin or a super-admin may.
pub fn removes_own_last_post(caller: &Caller, holder: UserId, holder_posts: usize) -> bool {
    caller.id == holder && holder_posts <= 1
}

/// Which roles a caller may create through `POST /users`.
pub fn may_create_role(caller: &Caller, role: Role) -> bool {
    caller.is_admin() && matches!(role, Role::Staff | Role::Admin)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn no_one_removes_their_own_last_post() {
        let admin = caller(Role::Admin, &[(Level::Committee, "/1/")]);
        assert!(removes_own_last_post(&admin, UserId(1), 1));
        assert!(!removes_own_last_post(&admin, UserId(1), 2));
        assert!(!removes_own_last_post(&admin, UserId(2), 1));
        assert!(!removes_own_last_post(&caller(Role::Superadmin, &[]), UserId(2), 1));
    }

    #[test]
    fn admins_manage_only_their_communities() {
        let admin = caller(Role::Admin, &[(Level::Committee, "/1/")]);
        assert!(admin.manages("/1/"));
        assert!(admin.manages("/1/4/9/"));
        assert!(!admin.manages("/2/"));
        assert!(!admin.manages("/12/"));
        assert!(caller(Role::Superadmin, &[]).manages("/2/"));
        assert!(!caller(Role::Staff, &[(Level::Committee, "/1/")]).manages("/1/4/"));
        assert!(!caller(Role::Resident, &[]).manages("/1/"));
    }

    #[test]
    fn staff_work_in_their_subtrees_only() {
        let building_leader = caller(Role::Staff, &[(Level::Building, "/1/4/9/")]);
        assert!(building_leader.works_in("/1/4/9/"));
        assert!(building_leader.works_in("/1/4/9/30/"));
        assert!(!building_leader.works_in("/1/4/"));
        assert!(!building_leader.works_in("/1/4/10/"));
        assert!(!caller(Role::Resident, &[(Level::Building, "/1/4/9/")]).works_in("/1/4/9/"));
    }

    #[test]
    fn coverage_is_kept_by_admins_and_branch_staff() {
        let branch = caller(Role::Staff, &[(Level::Branch, "/1/4/")]);
        let building = caller(Role::Staff, &[(Level::Building, "/1/4/9/")]);
        assert!(branch.maintains_coverage("/1/4/9/"));
        assert!(!building.maintains_coverage("/1/4/9/"));
        assert!(!branch.maintains_coverage("/1/5/"));
    }

    #[test]
    fn phones_are_unmasked_for_admins_and_committee_staff() {
        assert!(caller(Role::Admin, &[(Level::Committee, "/1/")]).sees_full_phones());
        assert!(caller(Role::Staff, &[(Level::Committee, "/1/")]).sees_full_phones());
        assert!(!caller(Role::Staff, &[(Level::Branch, "/1/4/")]).sees_full_phones());
        assert!(!caller(Role::Resident, &[]).sees_full_phones());
    }

    #[test]
    fn posts_fit_roles() {
        for level in Level::ALL {
            assert!(may_hold_post_at(Role::Staff, level));
            assert_eq!(may_hold_post_at(Role::Admin, level), level == Level::Committee);
            assert!(!may_hold_post_at(Role::Resident, level));
            assert!(!may_hold_post_at(Role::Superadmin, level));
        }
    }
}
