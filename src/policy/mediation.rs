//! Who may take part in people's mediation (人民调解) beyond working the
//! dispute (`tickets::can_work`): who lists follow-ups, who may mediate.

use super::Caller;
use crate::domain::grid::community_of;
use crate::domain::people::Role;

/// Follow-up visits (履行回访) are staff work: everyone but residents may
/// list them (each sees those in their own subtrees).
pub fn may_list_follow_ups(caller: &Caller) -> bool {
    caller.role != Role::Resident
}

/// A mediator is a staff member or admin holding a post in the dispute's
/// community (`community_id`, the root unit of its path).
pub fn may_mediate(mediator: &Caller, community_id: i64) -> bool {
    mediator.role.holds_posts()
        && mediator
            .posts
            .iter()
            .any(|p| community_of(&p.path) == Some(community_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::grid::Level;
    use crate::domain::ids::{UnitId, UserId};
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
    fn everyone_but_residents_lists_follow_ups() {
        assert!(!may_list_follow_ups(&caller(Role::Resident, &[])));
        assert!(may_list_follow_ups(&caller(
            Role::Staff,
            &[(Level::Building, "/1/4/9/")]
        )));
        assert!(may_list_follow_ups(&caller(Role::Admin, &[(Level::Committee, "/1/")])));
        assert!(may_list_follow_ups(&caller(Role::Superadmin, &[])));
        // Listing is not working: a staff member without posts lists an empty page.
        assert!(may_list_follow_ups(&caller(Role::Staff, &[])));
    }

    #[test]
    fn mediators_hold_a_post_in_the_disputes_community() {
        let building = caller(Role::Staff, &[(Level::Building, "/1/4/9/")]);
        assert!(may_mediate(&building, 1));
        assert!(!may_mediate(&building, 4));
        assert!(!may_mediate(&building, 12));
        assert!(may_mediate(&caller(Role::Admin, &[(Level::Committee, "/1/")]), 1));
        let elsewhere = caller(Role::Staff, &[(Level::Committee, "/2/"), (Level::Branch, "/3/7/")]);
        assert!(!may_mediate(&elsewhere, 1));
        assert!(may_mediate(&elsewhere, 3));
        // Residents and the super-admin hold no posts, so they mediate nowhere.
        assert!(!may_mediate(
            &caller(Role::Resident, &[(Level::Household, "/1/4/9/30/")]),
            1
        ));
        assert!(!may_mediate(&caller(Role::Superadmin, &[]), 1));
    }
}
