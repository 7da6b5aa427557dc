//! Tickets: kinds, priorities, the status machine and routing. Pure.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::grid::Level;

/// 投诉 (complaint) or 矛盾纠纷 (neighbour dispute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Complaint,
    Dispute,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Complaint, Kind::Dispute];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complaint => "complaint",
            Self::Dispute => "dispute",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The Chinese name, as a secretary's case list (台账) says it.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Complaint => "投诉",
            Self::Dispute => "矛盾纠纷",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Urgent,
    #[default]
    Normal,
    Low,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Urgent, Priority::Normal, Priority::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Urgent => "urgent",
            Self::Normal => "normal",
            Self::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Where a ticket stands (工单状态). 终态 (final): nothing more happens to it.
///
/// | value | 中文 | final 终态 |
/// | --- | --- | --- |
/// | `assigned` | 待签收：在当前单位等待签收 · waiting at its unit to be signed for | no 否 |
/// | `accepted` | 办理中：已签收，正在办理 · signed for, being handled | no 否 |
/// | `resolved` | 已办结：等待居民确认或不满意重办 · handled, waiting for the reporter to confirm or reopen | no 否 |
/// | `closed` | 已关闭：居民确认并评价，或到期自动关闭 · confirmed (rated) or closed automatically | yes 是 |
/// | `withdrawn` | 已撤回：居民撤回 · withdrawn by the reporter | yes 是 |
/// | `rejected` | 不予受理 · not accepted, with a reason | yes 是 |
/// | `referred` | 已转出：由社区转交网格外部门（如12345热线） · handed outside the grid by the committee | yes 是 |
/// | `merged` | 已合并：作为重复工单并入另一工单 · closed as a duplicate of another ticket | yes 是 |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting at its current unit to be signed for (签收).
    Assigned,
    /// Signed for; being handled at its current unit.
    Accepted,
    /// Handled (办结); waiting for the reporter to confirm or reopen.
    Resolved,
    /// Confirmed by the reporter (with a rating) or closed automatically.
    Closed,
    /// Withdrawn by the reporter.
    Withdrawn,
    /// Not accepted (不予受理): out of scope or a duplicate, with a reason.
    Rejected,
    /// Handed outside the grid by the committee (e.g. 12345 hotline, mediation committee).
    Referred,
    /// Closed as a duplicate of another ticket.
    Merged,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Assigned,
        Status::Accepted,
        Status::Resolved,
        Status::Closed,
        Status::Withdrawn,
        Status::Rejected,
        Status::Referred,
        Status::Merged,
    ];

    /// Every status's name, in the order of [`Status::ALL`].
    pub const NAMES: [&'static str; 8] = {
        let mut names = [""; 8];
        let mut i = 0;
        while i < 8 {
            names[i] = Self::ALL[i].as_str();
            i += 1;
        }
        names
    };

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Assigned => "assigned",
            Self::Accepted => "accepted",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
            Self::Withdrawn => "withdrawn",
            Self::Rejected => "rejected",
            Self::Referred => "referred",
            Self::Merged => "merged",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The Chinese name, as in the table above (待签收, 办理中, ...).
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Assigned => "待签收",
            Self::Accepted => "办理中",
            Self::Resolved => "已办结",
            Self::Closed => "已关闭",
            Self::Withdrawn => "已撤回",
            Self::Rejected => "不予受理",
            Self::Referred => "已转出",
            Self::Merged => "已合并",
        }
    }

    /// Still being worked on at a grid unit.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Assigned | Self::Accepted)
    }

    /// Nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Closed | Self::Withdrawn | Self::Rejected | Self::Referred | Self::Merged
        )
    }
}

/// What can be done to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 签收: sign for the ticket at its current unit.
    Accept,
    /// 办结: resolve it, with a resolution note.
    Resolve,
    /// 上报: send it to the parent unit, with a reason.
    Escalate,
    /// 下派: hand it to a unit below.
    Dispatch,
    /// 退回: send an escalated or dispatched ticket back where it came from.
    Return,
    /// 不满意重办: the reporter rejects the resolution; back to the resolving unit.
    Reopen,
    /// The reporter confirms the resolution and rates it.
    Close,
    /// The reporter takes the ticket back.
    Withdraw,
    /// 不予受理: out of scope or a duplicate.
    Reject,
    /// Committee only: hand it outside the grid.
    Refer,
    /// Close it as a duplicate of another ticket.
    Merge,
}

impl Action {
    pub const ALL: [Action; 11] = [
        Action::Accept,
        Action::Resolve,
        Action::Escalate,
        Action::Dispatch,
        Action::Return,
        Action::Reopen,
        Action::Close,
        Action::Withdraw,
        Action::Reject,
        Action::Refer,
        Action::Merge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Resolve => "resolve",
            Self::Escalate => "escalate",
            Self::Dispatch => "dispatch",
            Self::Return => "return",
            Self::Reopen => "reopen",
            Self::Close => "close",
            Self::Withdraw => "withdraw",
            Self::Reject => "reject",
            Self::Refer => "refer",
            Self::Merge => "merge",
        }
    }

    /// Actions taken by the reporter; the rest are staff work.
    pub fn by_reporter(self) -> bool {
        matches!(self, Self::Reopen | Self::Close | Self::Withdraw)
    }
}

/// The status machine: the status after `action` in `status`, or `None`
/// when the action is not allowed in that status.
pub fn next_status(status: Status, action: Action) -> Option<Status> {
    use Action as A;
    use Status as S;
    match (status, action) {
        (S::Assigned, A::Accept) => Some(S::Accepted),
        (S::Accepted, A::Resolve) => Some(S::Resolved),
        (S::Assigned | S::Accepted, A::Escalate | A::Dispatch) => Some(S::Assigned),
        (S::Assigned, A::Return) => Some(S::Assigned),
        (S::Resolved, A::Reopen) => Some(S::Assigned),
        (S::Resolved, A::Close) => Some(S::Closed),
        (S::Assigned | S::Accepted, A::Withdraw) => Some(S::Withdrawn),
        (S::Assigned | S::Accepted, A::Reject) => Some(S::Rejected),
        (S::Assigned | S::Accepted, A::Refer) => Some(S::Referred),
        (S::Assigned | S::Accepted, A::Merge) => Some(S::Merged),
        _ => None,
    }
}

/// The actions the status machine allows in `status`.
pub fn allowed_actions(status: Status) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| next_status(status, *a).is_some())
        .collect()
}

/// Where a ticket is, as far as the actions possible there go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub level: Level,
    /// It arrived by escalation or dispatch, so it can be returned.
    pub arrived_from_elsewhere: bool,
}

/// Whether `action` makes sense where the ticket is (the status machine
/// aside): nothing is above a committee to escalate to, nothing below a
/// household to dispatch to, and only an escalated or dispatched ticket can
/// be returned.
pub fn possible_at(action: Action, place: Place) -> bool {
    match action {
        Action::Escalate => place.level != Level::Committee,
        Action::Dispatch => place.level != Level::Household,
        Action::Return => place.arrived_from_elsewhere,
        _ => true,
    }
}

/// The grid units that serve a resident, from the committee down to their
/// household (when one is assigned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingChain {
    pub committee: i64,
    pub branch: i64,
    pub building: i64,
    pub household: Option<i64>,
}

/// Routing: a new ticket lands at the lowest unit that serves the reporter
/// and is at or above the category's entry level. Disputes enter at
/// building level or above.
pub fn route(kind: Kind, entry_level: Level, chain: &ServingChain) -> i64 {
    let floor = match kind {
        Kind::Dispute => entry_level.min(Level::Building),
        Kind::Complaint => entry_level,
    };
    match floor {
        Level::Household => chain.household.unwrap_or(chain.building),
        Level::Building => chain.building,
        Level::Branch => chain.branch,
        Level::Committee => chain.committee,
    }
}

super::stored::stored_as_text!(Kind, "kind");
super::stored::stored_as_text!(Priority, "priority");
super::stored::stored_as_text!(Status, "status");

/// What a timeline entry records. Stored as text in `ticket_events.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The ticket was filed.
    Filed,
    /// A comment.
    Comment,
    Accept,
    Resolve,
    Escalate,
    Dispatch,
    Return,
    Reopen,
    Close,
    Withdraw,
    Reject,
    Refer,
    Merge,
    /// On the primary ticket: a duplicate was merged into it.
    MergedDuplicate,
    /// The deadline worker (督办) escalated it.
    AutoEscalate,
    /// The deadline worker found the sign-for deadline missed.
    AcceptOverdue,
    /// The deadline worker found the resolve deadline missed.
    ResolveOverdue,
    /// The deadline worker closed a resolved ticket the reporter left unconfirmed.
    AutoClose,
    ExtensionRequested,
    ExtensionApproved,
    ExtensionDenied,
    PartyAdded,
    Mediation,
    Agreement,
    AgreementRevised,
    FollowUp,
}

impl EventKind {
    pub const ALL: [EventKind; 26] = [
        EventKind::Filed,
        EventKind::Comment,
        EventKind::Accept,
        EventKind::Resolve,
        EventKind::Escalate,
        EventKind::Dispatch,
        EventKind::Return,
        EventKind::Reopen,
        EventKind::Close,
        EventKind::Withdraw,
        EventKind::Reject,
        EventKind::Refer,
        EventKind::Merge,
        EventKind::MergedDuplicate,
        EventKind::AutoEscalate,
        EventKind::AcceptOverdue,
        EventKind::ResolveOverdue,
        EventKind::AutoClose,
        EventKind::ExtensionRequested,
        EventKind::ExtensionApproved,
        EventKind::ExtensionDenied,
        EventKind::PartyAdded,
        EventKind::Mediation,
        EventKind::Agreement,
        EventKind::AgreementRevised,
        EventKind::FollowUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Filed => "filed",
            Self::Comment => "comment",
            Self::Accept => "accept",
            Self::Resolve => "resolve",
            Self::Escalate => "escalate",
            Self::Dispatch => "dispatch",
            Self::Return => "return",
            Self::Reopen => "reopen",
            Self::Close => "close",
            Self::Withdraw => "withdraw",
            Self::Reject => "reject",
            Self::Refer => "refer",
            Self::Merge => "merge",
            Self::MergedDuplicate => "merged_duplicate",
            Self::AutoEscalate => "auto_escalate",
            Self::AcceptOverdue => "accept_overdue",
            Self::ResolveOverdue => "resolve_overdue",
            Self::AutoClose => "auto_close",
            Self::ExtensionRequested => "extension_requested",
            Self::ExtensionApproved => "extension_approved",
            Self::ExtensionDenied => "extension_denied",
            Self::PartyAdded => "party_added",
            Self::Mediation => "mediation",
            Self::Agreement => "agreement",
            Self::AgreementRevised => "agreement_revised",
            Self::FollowUp => "follow_up",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

super::stored::stored_as_text!(EventKind, "event kind");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_machine_over_every_status_and_action() {
        use Action as A;
        use Status as S;
        let expected: &[(Status, &[(Action, Status)])] = &[
            (
                S::Assigned,
                &[
                    (A::Accept, S::Accepted),
                    (A::Escalate, S::Assigned),
                    (A::Dispatch, S::Assigned),
                    (A::Return, S::Assigned),
                    (A::Withdraw, S::Withdrawn),
                    (A::Reject, S::Rejected),
                    (A::Refer, S::Referred),
                    (A::Merge, S::Merged),
                ],
            ),
            (
                S::Accepted,
                &[
                    (A::Resolve, S::Resolved),
                    (A::Escalate, S::Assigned),
                    (A::Dispatch, S::Assigned),
                    (A::Withdraw, S::Withdrawn),
                    (A::Reject, S::Rejected),
                    (A::Refer, S::Referred),
                    (A::Merge, S::Merged),
                ],
            ),
            (S::Resolved, &[(A::Reopen, S::Assigned), (A::Close, S::Closed)]),
            (S::Closed, &[]),
            (S::Withdrawn, &[]),
            (S::Rejected, &[]),
            (S::Referred, &[]),
            (S::Merged, &[]),
        ];
        assert_eq!(expected.len(), Status::ALL.len());
        for (status, allowed) in expected {
            for action in Action::ALL {
                let want = allowed.iter().find(|(a, _)| *a == action).map(|(_, to)| *to);
                assert_eq!(next_status(*status, action), want, "{status:?} + {action:?}");
            }
            assert_eq!(
                allowed_actions(*status),
                allowed.iter().map(|(a, _)| *a).collect::<Vec<_>>()
            );
            assert_eq!(status.is_final(), allowed.is_empty());
        }
    }

    #[test]
    fn the_place_limits_escalation_dispatch_and_return() {
        let at = |level, arrived_from_elsewhere| Place {
            level,
            arrived_from_elsewhere,
        };
        assert!(!possible_at(Action::Escalate, at(Level::Committee, false)));
        assert!(possible_at(Action::Escalate, at(Level::Household, false)));
        assert!(!possible_at(Action::Dispatch, at(Level::Household, true)));
        assert!(possible_at(Action::Dispatch, at(Level::Branch, false)));
        assert!(!possible_at(Action::Return, at(Level::Building, false)));
        assert!(possible_at(Action::Return, at(Level::Building, true)));
        for action in Action::ALL {
            if !matches!(action, Action::Escalate | Action::Dispatch | Action::Return) {
                assert!(possible_at(action, at(Level::Building, false)), "{action:?}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn tickets_enter_at_the_lowest_serving_unit_at_or_above_the_entry_level() {
        let chain = ServingChain {
            committee: 1,
            branch: 2,
            building: 3,
            household: Some(4),
        };
        assert_eq!(route(Kind::Complaint, Level::Household, &chain), 4);
        assert_eq!(route(Kind::Complaint, Level::Building, &chain), 3);
        assert_eq!(route(Kind::Complaint, Level::Branch, &chain), 2);
        assert_eq!(route(Kind::Complaint, Level::Committee, &chain), 1);
        // Disputes never start below the building.
        assert_eq!(route(Kind::Dispute, Level::Household, &chain), 3);
        assert_eq!(route(Kind::Dispute, Level::Branch, &chain), 2);
        // No household assigned yet: the building serves.
        let unassigned = ServingChain {
            household: None,
            ..chain
        };
        assert_eq!(route(Kind::Complaint, Level::Household, &unassigned), 3);
        assert_eq!(route(Kind::Complaint, Level::Committee, &unassigned), 1);
    }
}
