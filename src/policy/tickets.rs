//! Who may read and work tickets (PRODUCT: "Who may see and do what").

use super::Caller;
use crate::domain::grid::{Level, community_of};
use crate::domain::ids::UserId;
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

/// Where a caller sees who filed an anonymous ticket (besides tickets they
/// filed themselves): admins everywhere they may read; staff on tickets that
/// are, or have been, inside the subtree of one of their branch or
/// committee posts; nobody else anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReporterSight {
    Everywhere,
    /// Roots of the subtrees (possibly none).
    Below(Vec<String>),
}

impl ReporterSight {
    fn covers(&self, t: &TicketFacts<'_>) -> bool {
        match self {
            ReporterSight::Everywhere => true,
            ReporterSight::Below(roots) => std::iter::once(t.current_path)
                .chain(t.visited_paths.iter().map(String::as_str))
                .any(|path| roots.iter().any(|root| path.starts_with(root.as_str()))),
        }
    }
}

/// The one rule of anonymity (PRODUCT: anonymous tickets hide the reporter
/// from household and building levels on every path). Lists ask it through
/// [`reporter_sight`] in SQL; one ticket through [`sees_reporter`].
pub fn reporter_sight(caller: &Caller) -> ReporterSight {
    if caller.is_admin() {
        return ReporterSight::Everywhere;
    }
    if caller.role != Role::Staff {
        return ReporterSight::Below(Vec::new());
    }
    ReporterSight::Below(
        caller
            .posts
            .iter()
            .filter(|post| post.level <= Level::Branch)
            .map(|post| post.path.clone())
            .collect(),
    )
}

/// Anonymous reporters are hidden from household and building levels: only
/// the reporter, admins, and staff holding a branch or committee post on the
/// ticket's path see who filed it.
pub fn sees_reporter(caller: &Caller, t: &TicketFacts<'_>) -> bool {
    !t.anonymous || t.is_reporter(caller) || reporter_sight(caller).covers(t)
}

/// The reporter `caller` may not be shown, if any: every answer about the
/// ticket (the ticket, its parties, events, their actors and notes,
/// comments) renders through [`HiddenReporter`] so none tells who it is.
pub fn hidden_reporter(caller: &Caller, t: &TicketFacts<'_>) -> Option<HiddenReporter> {
    (!sees_reporter(caller, t)).then_some(HiddenReporter { user_id: t.reporter_id })
}

/// The note a `filed` event shows in place of the resident's name when
/// staff filed an anonymous ticket for them (代为提交).
pub const FILED_FOR_HIDDEN_REPORTER: &str = "filed by staff for a resident";

/// A reporter the caller may not see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HiddenReporter {
    pub user_id: i64,
}

impl HiddenReporter {
    /// Whether an account (an event's actor, a party) is the hidden reporter.
    pub fn is(&self, user_id: i64) -> bool {
        self.user_id == user_id
    }

    /// An event's note as the caller may read it. Notes the system writes
    /// are the only ones that can name the reporter: the `filed` note of a
    /// ticket staff filed for them ("filed by staff for 王芳", kept in old
    /// rows). Everything else is text someone typed.
    pub fn note(&self, kind: &str, note: Option<String>) -> Option<String> {
        match kind {
            "filed" => note.map(|_| FILED_FOR_HIDDEN_REPORTER.to_owned()),
            _ => note,
        }
    }
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

/// Which tickets a caller may list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketScope {
    All,
    /// A resident: their own tickets, and disputes others filed that they
    /// are a party to (`party` says whether there are any: without, the
    /// reporter index alone answers).
    Resident {
        user_id: i64,
        party: bool,
    },
    /// Post holders: whole communities (committee posts) and the subtrees of
    /// lower posts, by every unit a ticket has been at.
    Staff {
        communities: Vec<i64>,
        prefixes: Vec<String>,
    },
}

/// The tickets `caller` may list: everything for a super-admin; a
/// resident's own (and disputes they are party to); for post holders, the
/// communities of their committee posts whole and the subtrees of lower
/// posts.
pub fn list_scope(caller: &Caller) -> TicketScope {
    match caller.role {
        Role::Superadmin => TicketScope::All,
        Role::Resident => TicketScope::Resident {
            user_id: caller.id.0,
            party: true,
        },
        Role::Staff | Role::Admin => {
            let mut communities = Vec::new();
            let mut prefixes = Vec::new();
            for post in &caller.posts {
                match (post.level, community_of(&post.path)) {
                    (Level::Committee, Some(community)) => communities.push(community),
                    _ => prefixes.push(post.path.clone()),
                }
            }
            TicketScope::Staff { communities, prefixes }
        }
    }
}

/// For whom a new ticket is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilingFor {
    /// A resident files for themselves.
    Themselves,
    /// Staff file for a resident who came in or phoned (代为提交).
    Resident(UserId),
}

/// Why a caller may not file as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilingRefused {
    /// A resident named someone else.
    StaffOnly,
    /// Staff named nobody.
    ResidentRequired,
}

/// Residents file for themselves; staff and admins for a resident, whom
/// they must name (and who must live in their area: [`may_file_for`]).
pub fn filing_for(caller: &Caller, on_behalf_of: Option<UserId>) -> Result<FilingFor, FilingRefused> {
    match (caller.role, on_behalf_of) {
        (Role::Resident, None) => Ok(FilingFor::Themselves),
        (Role::Resident, Some(_)) => Err(FilingRefused::StaffOnly),
        (_, None) => Err(FilingRefused::ResidentRequired),
        (_, Some(resident)) => Ok(FilingFor::Resident(resident)),
    }
}

/// Staff file for residents whose home lies inside their posts.
pub fn may_file_for(caller: &Caller, home_path: &str) -> bool {
    caller.works_in(home_path)
}

/// Residents file at most `limits::FILINGS_PER_HOUR` tickets an hour; staff
/// filing at a counter for many residents are not limited.
pub fn filings_are_limited(caller: &Caller) -> bool {
    caller.role == Role::Resident
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UnitId;
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
    fn where_the_reporter_is_hidden_nothing_rendered_names_them() {
        let visited = vec!["/1/4/9/".to_owned()];
        let t = facts(&visited, &[], true);
        let building = caller(2, Role::Staff, &[(Level::Building, "/1/4/9/")]);
        let hidden = hidden_reporter(&building, &t).unwrap();
        assert!(hidden.is(100) && !hidden.is(2));
        assert_eq!(
            hidden.note("filed", Some("filed by staff for 王芳".into())).as_deref(),
            Some(FILED_FOR_HIDDEN_REPORTER)
        );
        assert_eq!(hidden.note("filed", None), None, "a resident filed it themselves");
        assert_eq!(hidden.note("comment", Some("x".into())).as_deref(), Some("x"));
        let branch = caller(3, Role::Staff, &[(Level::Branch, "/1/4/")]);
        assert_eq!(hidden_reporter(&branch, &t), None);
        assert_eq!(hidden_reporter(&building, &facts(&visited, &[], false)), None);
    }

    #[test]
    fn the_sight_lists_branch_and_committee_posts_only() {
        let staff = caller(
            2,
            Role::Staff,
            &[
                (Level::Household, "/1/4/9/30/"),
                (Level::Branch, "/1/5/"),
                (Level::Committee, "/2/"),
            ],
        );
        assert_eq!(
            reporter_sight(&staff),
            ReporterSight::Below(vec!["/1/5/".into(), "/2/".into()])
        );
        assert_eq!(reporter_sight(&caller(6, Role::Admin, &[])), ReporterSight::Everywhere);
        assert_eq!(
            reporter_sight(&caller(7, Role::Superadmin, &[])),
            ReporterSight::Everywhere
        );
        assert_eq!(
            reporter_sight(&caller(100, Role::Resident, &[])),
            ReporterSight::Below(vec![])
        );
        // A ticket that passed through the branch, now elsewhere.
        let moved = vec!["/1/5/7/".to_owned()];
        let t = TicketFacts {
            current_path: "/1/",
            ..facts(&moved, &[], true)
        };
        assert!(sees_reporter(&staff, &t));
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

    #[test]
    fn the_list_scope_follows_the_role_and_the_posts() {
        assert_eq!(list_scope(&caller(1, Role::Superadmin, &[])), TicketScope::All);
        assert_eq!(
            list_scope(&caller(7, Role::Resident, &[])),
            TicketScope::Resident {
                user_id: 7,
                party: true
            }
        );
        let staff = caller(
            2,
            Role::Staff,
            &[(Level::Committee, "/1/"), (Level::Building, "/5/6/7/")],
        );
        assert_eq!(
            list_scope(&staff),
            TicketScope::Staff {
                communities: vec![1],
                prefixes: vec!["/5/6/7/".into()]
            }
        );
        let admin = caller(3, Role::Admin, &[(Level::Committee, "/5/")]);
        assert_eq!(
            list_scope(&admin),
            TicketScope::Staff {
                communities: vec![5],
                prefixes: vec![]
            }
        );
    }

    #[test]
    fn residents_file_for_themselves_and_staff_for_a_named_resident_in_their_area() {
        let resident = caller(7, Role::Resident, &[]);
        assert_eq!(filing_for(&resident, None), Ok(FilingFor::Themselves));
        assert_eq!(filing_for(&resident, Some(UserId(8))), Err(FilingRefused::StaffOnly));
        let staff = caller(2, Role::Staff, &[(Level::Building, "/1/4/9/")]);
        assert_eq!(filing_for(&staff, None), Err(FilingRefused::ResidentRequired));
        assert_eq!(filing_for(&staff, Some(UserId(8))), Ok(FilingFor::Resident(UserId(8))));
        assert!(may_file_for(&staff, "/1/4/9/"));
        assert!(!may_file_for(&staff, "/1/4/10/"));
        let admin = caller(3, Role::Admin, &[(Level::Committee, "/1/")]);
        assert_eq!(filing_for(&admin, Some(UserId(8))), Ok(FilingFor::Resident(UserId(8))));
        assert!(may_file_for(&admin, "/1/4/10/"));
        assert!(!may_file_for(&admin, "/2/4/10/"), "another community");
    }

    #[test]
    fn only_residents_filings_are_limited() {
        assert!(filings_are_limited(&caller(7, Role::Resident, &[])));
        for role in [Role::Staff, Role::Admin, Role::Superadmin] {
            assert!(!filings_are_limited(&caller(2, role, &[])), "{role:?}");
        }
    }
}
