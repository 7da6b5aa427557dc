//! Who may read and work tickets (PRODUCT: "Who may see and do what").

use super::Caller;
use crate::domain::grid::Level;
use crate::domain::people::Role;
use crate::domain::ticket::Action;

/// What policy needs to know about a ticket.
#[derive(Debug, Clone)]
pub struct TicketFacts<'a> {
    pub reporter_id: i64,
    pub anonymous: bool,
    pub current_path: &'a str,
    pub current_level: Level,
    /// Paths of every unit the ticket has been at (the current one included).
    pub visited_paths: &'a [String],
    /// Resident accounts that are parties to a dispute.
    pub party_user_ids: &'a [i64],
}

impl TicketFacts<'_> {
    fn is_reporter(&self, caller: &Caller) -> bool {
        self.reporter_id == caller.id.0
    }

    fn is_party(&self, caller: &Caller) -> bool {
        self.party_user_ids.contains(&caller.id.0)
    }

    fn passed_through_scope(&self, caller: &Caller) -> bool {
        caller.works_in(self.current_path) || self.visited_paths.iter().any(|p| caller.works_in(p))
    }
}

/// Residents read their own tickets and disputes they are party to; post
/// holders read tickets whose current unit, or any unit the ticket passed
/// through, is inside their subtrees.
pub fn can_read(caller: &Caller, t: &TicketFacts<'_>) -> bool {
    caller.is_superadmin() || t.is_reporter(caller) || t.is_party(caller) || t.passed_through_scope(caller)
}

/// Post holders work tickets whose current unit is inside their subtrees.
pub fn can_work(caller: &Caller, t: &TicketFacts<'_>) -> bool {
    caller.works_in(t.current_path)
}

/// Whether `caller` may take `action` (the status machine is asked apart).
pub fn may_act(caller: &Caller, action: Action, t: &TicketFacts<'_>) -> bool {
    match action {
        Action::Reopen | Action::Close | Action::Withdraw => t.is_reporter(caller),
        // Referral outside the grid is the committee's decision.
        Action::Refer => can_work(caller, t) && t.current_level == Level::Committee,
        Action::Accept
        | Action::Resolve
        | Action::Escalate
        | Action::Dispatch
        | Action::Return
        | Action::Reject
        | Action::Merge => can_work(caller, t),
    }
}

/// Anonymous reporters are hidden from household and building levels: only
/// the reporter, admins, and staff holding a branch or committee post on the
/// ticket's path see who filed it.
pub fn sees_reporter(caller: &Caller, t: &TicketFacts<'_>) -> bool {
    if !t.anonymous || t.is_reporter(caller) || caller.is_admin() {
        return true;
    }
    caller.role == Role::Staff
        && caller.posts.iter().any(|post| {
            post.level <= Level::Branch
                && std::iter::once(t.current_path)
                    .chain(t.visited_paths.iter().map(String::as_str))
                    .any(|path| path.starts_with(&post.path))
        })
}

/// Residents never see other people's contact details on a ticket (the
/// other side of a dispute above all); staff see them masked or in full as
/// for any account.
pub fn sees_contact_details(caller: &Caller) -> bool {
    caller.role != Role::Resident
}

/// Internal notes are written and read by staff and admins only.
pub fn sees_internal_notes(caller: &Caller) -> bool {
    caller.role != Role::Resident
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{UnitId, UserId};
    use crate::policy::PostScope;

    fn caller(id: i64, role: Role, posts: &[(Level, &str)]) -> Caller {
        Caller {
            id: UserId(id),
            role,
            posts: posts
                .iter()
                .map(|(level, path)| PostScope {
                    unit_id: UnitId(0),
                    level: *level,
                    path: (*path).into(),
                })
                .collect(),
        }
    }

    fn facts<'a>(visited: &'a [String], parties: &'a [i64], anonymous: bool) -> TicketFacts<'a> {
        TicketFacts {
            reporter_id: 100,
            anonymous,
            current_path: "/1/4/9/",
            current_level: Level::Building,
            visited_paths: visited,
            party_user_ids: parties,
        }
    }

    #[test]
    fn residents_read_their_own_tickets_and_disputes_they_are_party_to() {
        let visited = vec!["/1/4/9/30/".to_owned(), "/1/4/9/".to_owned()];
        let t = facts(&visited, &[200], false);
        assert!(can_read(&caller(100, Role::Resident, &[]), &t));
        assert!(can_read(&caller(200, Role::Resident, &[]), &t));
        assert!(!can_read(&caller(300, Role::Resident, &[]), &t));
        assert!(may_act(&caller(100, Role::Resident, &[]), Action::Close, &t));
        assert!(!may_act(&caller(200, Role::Resident, &[]), Action::Close, &t));
        assert!(!may_act(&caller(100, Role::Resident, &[]), Action::Accept, &t));
    }

    #[test]
    fn staff_read_along_the_path_and_act_only_at_the_current_unit() {
        let visited = vec!["/1/4/9/30/".to_owned(), "/1/4/9/".to_owned()];
        let t = facts(&visited, &[], false);
        let household = caller(1, Role::Staff, &[(Level::Household, "/1/4/9/30/")]);
        assert!(can_read(&household, &t), "it passed through the household");
        assert!(!may_act(&household, Action::Accept, &t), "but is now at the building");
        let building = caller(2, Role::Staff, &[(Level::Building, "/1/4/9/")]);
        assert!(may_act(&building, Action::Accept, &t));
        assert!(!may_act(&building, Action::Refer, &t), "refer is for the committee");
        let other = caller(3, Role::Staff, &[(Level::Building, "/1/4/10/")]);
        assert!(!can_read(&other, &t));
        let committee = caller(4, Role::Staff, &[(Level::Committee, "/1/")]);
        assert!(may_act(&committee, Action::Escalate, &t));
        let at_committee = TicketFacts {
            current_path: "/1/",
            current_level: Level::Committee,
            ..t.clone()
        };
        assert!(may_act(&committee, Action::Refer, &at_committee));
        assert!(can_read(&caller(5, Role::Superadmin, &[]), &t));
        assert!(!can_read(&caller(6, Role::Admin, &[(Level::Committee, "/2/")]), &t));
    }

    #[test]
    fn anonymous_reporters_are_hidden_below_branch_level() {
        let visited = vec!["/1/4/9/".to_owned()];
        let t = facts(&visited, &[], true);
        assert!(!sees_reporter(
            &caller(2, Role::Staff, &[(Level::Building, "/1/4/9/")]),
            &t
        ));
        assert!(!sees_reporter(
            &caller(2, Role::Staff, &[(Level::Household, "/1/4/9/30/")]),
            &t
        ));
        assert!(sees_reporter(&caller(3, Role::Staff, &[(Level::Branch, "/1/4/")]), &t));
        assert!(sees_reporter(&caller(4, Role::Staff, &[(Level::Committee, "/1/")]), &t));
        assert!(!sees_reporter(&caller(5, Role::Staff, &[(Level::Branch, "/1/5/")]), &t));
        assert!(sees_reporter(&caller(6, Role::Admin, &[(Level::Committee, "/1/")]), &t));
        assert!(sees_reporter(&caller(100, Role::Resident, &[]), &t));
        let named = facts(&visited, &[], false);
        assert!(sees_reporter(
            &caller(2, Role::Staff, &[(Level::Building, "/1/4/9/")]),
            &named
        ));
    }

    #[test]
    fn parties_do_not_see_the_other_sides_contact_details() {
        assert!(!sees_contact_details(&caller(200, Role::Resident, &[])));
        assert!(sees_contact_details(&caller(
            2,
            Role::Staff,
            &[(Level::Building, "/1/4/9/")]
        )));
        assert!(!sees_internal_notes(&caller(100, Role::Resident, &[])));
    }
}
