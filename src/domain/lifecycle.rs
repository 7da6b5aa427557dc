//! The ticket lifecycle, planned without a database: given the ticket as it
//! stands, a step with its validated input and the few facts the step needs
//! (gathered by `service::lifecycle`), `plan` answers what changes, where
//! the ticket goes and what the timeline records, or why it may not happen.
//! The deadline worker's steps (督办) are planned here too, so a ticket
//! arriving at a unit is reset the same way whoever moves it.

use chrono::{Duration, NaiveDateTime};

use super::grid::Level;
use super::ids::{TicketId, UnitId};
use super::ticket::{Action, Kind, Place, Status, allowed_actions, next_status, possible_at};

/// How long after a resolution the reporter may still reject it (重办).
pub const REOPEN_WINDOW_DAYS: i64 = 7;
/// A resolution the reporter leaves unconfirmed this long is closed by the worker.
pub const AUTO_CLOSE_AFTER_DAYS: i64 = 7;

/// Whether a resolution made at `resolved_at` may still be reopened at `now`.
pub fn reopen_window_open(resolved_at: NaiveDateTime, now: NaiveDateTime) -> bool {
    now <= resolved_at + Duration::days(REOPEN_WINDOW_DAYS)
}

/// Resolutions made before this moment are closed automatically at `now`.
pub fn auto_close_resolved_before(now: NaiveDateTime) -> NaiveDateTime {
    now - Duration::days(AUTO_CLOSE_AFTER_DAYS)
}

/// One lifecycle step with its validated input.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Accept,
    Resolve { note: String },
    Escalate { reason: String },
    Dispatch { unit_id: UnitId, note: Option<String> },
    Return { reason: String },
    Reopen { reason: String },
    Close { rating: i32, feedback: Option<String> },
    Withdraw { reason: String },
    Reject { reason: String },
    Refer { target: String, note: Option<String> },
    Merge { into: TicketId, note: Option<String> },
}

impl Step {
    pub fn action(&self) -> Action {
        match self {
            Self::Accept => Action::Accept,
            Self::Resolve { .. } => Action::Resolve,
            Self::Escalate { .. } => Action::Escalate,
            Self::Dispatch { .. } => Action::Dispatch,
            Self::Return { .. } => Action::Return,
            Self::Reopen { .. } => Action::Reopen,
            Self::Close { .. } => Action::Close,
            Self::Withdraw { .. } => Action::Withdraw,
            Self::Reject { .. } => Action::Reject,
            Self::Refer { .. } => Action::Refer,
            Self::Merge { .. } => Action::Merge,
        }
    }
}

/// A dispute's outcome (调解结果), once resolved or referred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Resolved under a mediation agreement.
    Settled,
    /// Referred outside the grid without a settlement.
    NotSettled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Settled => "settled",
            Self::NotSettled => "not_settled",
        }
    }
}

/// A unit as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFacts {
    pub id: UnitId,
    pub parent_id: Option<UnitId>,
    pub level: Level,
    pub path: String,
}

/// The ticket as it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketState {
    pub id: TicketId,
    pub kind: Kind,
    pub status: Status,
    pub community_id: i64,
    pub current: UnitFacts,
    pub arrived_from: Option<UnitId>,
    pub resolved_at: Option<NaiveDateTime>,
    pub resolved_unit: Option<UnitId>,
    pub bounce_count: i32,
    pub escalation_count: i32,
    pub reopen_count: i32,
    pub version: i64,
}

impl TicketState {
    fn place(&self) -> Place {
        Place {
            level: self.current.level,
            arrived_from_elsewhere: self.arrived_from.is_some(),
        }
    }
}

/// The version a client says it last saw, and how it said so: a failed
/// `If-Match` precondition is 412, a stale `version` in the body is 409.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    IfMatch(i64),
    Body(i64),
}

/// The ticket a duplicate is merged into, if the caller can see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Primary {
    pub id: TicketId,
    pub community_id: i64,
    pub status: Status,
}

/// A unit named as the target of a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchTarget {
    pub unit: UnitFacts,
    /// The unit lies inside one of the caller's posts.
    pub caller_works_there: bool,
}

/// What a step needs to know beyond the ticket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The version the client last saw, if it said.
    pub expected: Option<Expected>,
    /// The actions policy lets this caller take on this ticket.
    pub permitted: Vec<Action>,
    /// Resolve (dispute): its mediation agreement is recorded.
    pub has_agreement: bool,
    /// Dispatch: the current unit has units below it.
    pub current_has_children: bool,
    /// Dispatch: the named unit, if it exists.
    pub dispatch_target: Option<DispatchTarget>,
    /// Merge: the named ticket, if it exists and the caller may read it.
    pub primary: Option<Primary>,
}

/// Why a step may not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `If-Match` names another version (412).
    IfMatchFailed { current_version: i64 },
    /// The body's `version` names another version (409).
    StaleVersion { current_version: i64 },
    /// The caller may never take this action on this ticket (403).
    NotPermitted,
    /// The status machine does not allow it now; `allowed` is what the
    /// caller could do instead.
    InvalidTransition {
        action: Action,
        status: Status,
        allowed: Vec<Action>,
    },
    /// A dispute resolves only as settled, under its agreement.
    AgreementRequired,
    /// Nothing is above the committee.
    NoParent,
    /// Nothing is below a household.
    HouseholdHasNothingBelow,
    /// The current unit has no unit below it.
    UnitHasNothingBelow,
    /// No unit has the id named in `unit_id`.
    DispatchTargetNotFound,
    /// The named unit is not below the current unit inside the caller's posts.
    NotBelowCurrent,
    /// Only a ticket that arrived by escalation or dispatch can be returned.
    NothingToReturn,
    /// The 7-day window for 重办 has passed.
    ReopenWindowClosed,
    /// A ticket cannot merge into itself.
    MergeIntoItself,
    /// No ticket the caller can see has the id named in `into_ticket_id`.
    MergeTargetNotFound,
    /// The primary is in another community or is itself merged.
    NotMergeable,
    /// The stored ticket contradicts itself (a bug, answered as 500).
    Inconsistent(&'static str),
}

/// The fields a step changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub status: Option<Status>,
    pub current_unit: Option<UnitId>,
    pub accept_due_at: Option<NaiveDateTime>,
    pub resolve_due_at: Option<NaiveDateTime>,
    pub accepted_at: Option<Option<NaiveDateTime>>,
    pub resolved_at: Option<Option<NaiveDateTime>>,
    pub closed_at: Option<Option<NaiveDateTime>>,
    pub resolution: Option<Option<String>>,
    pub resolved_unit: Option<Option<UnitId>>,
    pub rating: Option<Option<i32>>,
    pub feedback: Option<Option<String>>,
    pub bounce_count: Option<i32>,
    pub escalation_count: Option<i32>,
    pub reopen_count: Option<i32>,
    pub arrived_from: Option<Option<UnitId>>,
    pub merged_into: Option<Option<TicketId>>,
    pub referred_to: Option<Option<String>>,
    pub version: Option<i64>,
    pub updated_at: Option<NaiveDateTime>,
    pub accept_breached_at: Option<Option<NaiveDateTime>>,
    pub resolve_breached_at: Option<Option<NaiveDateTime>>,
    pub outcome: Option<Option<Outcome>>,
}

/// The deadlines at a unit, from its SLA rules (`service` looks them up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub accept_due_at: NaiveDateTime,
    pub resolve_due_at: NaiveDateTime,
}

impl Changes {
    /// Every arrival at a unit needs signing for again, with fresh
    /// deadlines and no breach carried over from the unit it left.
    pub fn arrive(&mut self, unit: UnitId, deadlines: Deadlines) {
        self.current_unit = Some(unit);
        self.accept_due_at = Some(deadlines.accept_due_at);
        self.resolve_due_at = Some(deadlines.resolve_due_at);
        self.accepted_at = Some(None);
        self.accept_breached_at = Some(None);
        self.resolve_breached_at = Some(None);
    }
}

/// A timeline entry on another ticket (the primary of a merge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedEvent {
    pub ticket: TicketId,
    pub kind: &'static str,
    pub note: String,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub from: Status,
    pub to: Status,
    pub changes: Changes,
    /// The unit the ticket moves to (then `service` sets its deadlines
    /// with [`Changes::arrive`] and records the visit).
    pub arrive_at: Option<UnitId>,
    /// The timeline entry's kind and note.
    pub event_kind: &'static str,
    pub note: Option<String>,
    /// Set on the event when a unit is left behind for `arrive_at`, or
    /// when the worker records a breach there.
    pub from_unit: UnitId,
    pub linked_event: Option<LinkedEvent>,
}

/// Plans `step` on `ticket` at `now`. Refusals come in a fixed order: the
/// version, then who may, then the status machine, then the step's own rules.
pub fn plan(ticket: &TicketState, step: Step, facts: &Facts, now: NaiveDateTime) -> Result<Plan, Refusal> {
    match facts.expected {
        Some(Expected::IfMatch(v)) if v != ticket.version => {
            return Err(Refusal::IfMatchFailed {
                current_version: ticket.version,
            });
        }
        Some(Expected::Body(v)) if v != ticket.version => {
            return Err(Refusal::StaleVersion {
                current_version: ticket.version,
            });
        }
        _ => {}
    }
    let action = step.action();
    if !facts.permitted.contains(&action) {
        return Err(Refusal::NotPermitted);
    }
    let place = ticket.place();
    let Some(next) = next_status(ticket.status, action) else {
        return Err(Refusal::InvalidTransition {
            action,
            status: ticket.status,
            allowed: allowed_actions(ticket.status)
                .into_iter()
                .filter(|a| possible_at(*a, place) && facts.permitted.contains(a))
                .collect(),
        });
    };
    let mut changes = Changes {
        status: Some(next),
        version: Some(ticket.version + 1),
        updated_at: Some(now),
        ..Changes::default()
    };
    let mut arrive_at = None;
    let mut linked_event = None;
    let note = match step {
        Step::Accept => {
            changes.accepted_at = Some(Some(now));
            None
        }
        Step::Resolve { note } => {
            // A dispute is resolved only as settled, under a mediation
            // agreement; one that could not be settled is referred.
            if ticket.kind == Kind::Dispute {
                if !facts.has_agreement {
                    return Err(Refusal::AgreementRequired);
                }
                changes.outcome = Some(Some(Outcome::Settled));
            }
            changes.resolution = Some(Some(note.clone()));
            changes.resolved_at = Some(Some(now));
            changes.resolved_unit = Some(Some(ticket.current.id));
            Some(note)
        }
        Step::Escalate { reason } => {
            let parent = ticket.current.parent_id.ok_or(Refusal::NoParent)?;
            arrive_at = Some(parent);
            changes.escalation_count = Some(ticket.escalation_count + 1);
            changes.arrived_from = Some(Some(ticket.current.id));
            Some(reason)
        }
        Step::Dispatch { unit_id: _, note } => {
            if !possible_at(Action::Dispatch, place) {
                return Err(Refusal::HouseholdHasNothingBelow);
            }
            // Whatever `unit_id` says, no request can dispatch from a unit
            // with nothing below it: that is the state, not the input.
            if !facts.current_has_children {
                return Err(Refusal::UnitHasNothingBelow);
            }
            let target = facts.dispatch_target.as_ref().ok_or(Refusal::DispatchTargetNotFound)?;
            let below =
                target.unit.id != ticket.current.id && super::grid::in_subtree(&target.unit.path, &ticket.current.path);
            if !below || !target.caller_works_there {
                return Err(Refusal::NotBelowCurrent);
            }
            arrive_at = Some(target.unit.id);
            changes.arrived_from = Some(Some(ticket.current.id));
            note
        }
        Step::Return { reason } => {
            let origin = ticket.arrived_from.ok_or(Refusal::NothingToReturn)?;
            arrive_at = Some(origin);
            changes.bounce_count = Some(ticket.bounce_count + 1);
            changes.arrived_from = Some(None);
            Some(reason)
        }
        Step::Reopen { reason } => {
            let resolved_at = ticket
                .resolved_at
                .ok_or(Refusal::Inconsistent("a resolved ticket without resolved_at"))?;
            if !reopen_window_open(resolved_at, now) {
                return Err(Refusal::ReopenWindowClosed);
            }
            arrive_at = Some(ticket.resolved_unit.unwrap_or(ticket.current.id));
            changes.reopen_count = Some(ticket.reopen_count + 1);
            changes.arrived_from = Some(None);
            changes.resolved_at = Some(None);
            changes.resolution = Some(None);
            changes.outcome = Some(None);
            Some(reason)
        }
        Step::Close { rating, feedback } => {
            changes.rating = Some(Some(rating));
            changes.feedback = Some(feedback.clone());
            changes.closed_at = Some(Some(now));
            feedback
        }
        Step::Withdraw { reason } | Step::Reject { reason } => {
            changes.closed_at = Some(Some(now));
            Some(reason)
        }
        Step::Refer { target, note } => {
            if ticket.kind == Kind::Dispute {
                changes.outcome = Some(Some(Outcome::NotSettled));
            }
            changes.referred_to = Some(Some(target.clone()));
            changes.closed_at = Some(Some(now));
            Some(match note {
                Some(note) => format!("{target}: {note}"),
                None => target,
            })
        }
        Step::Merge { into, note } => {
            if into == ticket.id {
                return Err(Refusal::MergeIntoItself);
            }
            let primary = facts.primary.as_ref().ok_or(Refusal::MergeTargetNotFound)?;
            if primary.community_id != ticket.community_id || primary.status == Status::Merged {
                return Err(Refusal::NotMergeable);
            }
            changes.merged_into = Some(Some(primary.id));
            changes.closed_at = Some(Some(now));
            linked_event = Some(LinkedEvent {
                ticket: primary.id,
                kind: "merged_duplicate",
                note: format!("ticket {} merged into this one", ticket.id),
            });
            Some(match note {
                Some(note) => format!("duplicate of ticket {}: {note}", primary.id),
                None => format!("duplicate of ticket {}", primary.id),
            })
        }
    };
    Ok(Plan {
        from: ticket.status,
        to: next,
        changes,
        arrive_at,
        event_kind: action.as_str(),
        note,
        from_unit: ticket.current.id,
        linked_event,
    })
}

/// The deadline worker's steps (督办).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineStep {
    /// Not signed for in time: up to the parent unit, or flagged at the committee.
    SignForMissed,
    /// Not resolved in time: flagged, once.
    ResolveMissed,
    /// Resolved and left unconfirmed for 7 days: closed.
    AutoClose,
}

/// Plans a worker step on a ticket the worker claimed as due. The status
/// does not change on a missed deadline; an escalation arrives at the
/// parent like any other.
pub fn plan_deadline(ticket: &TicketState, step: DeadlineStep, now: NaiveDateTime) -> Plan {
    let mut changes = Changes {
        version: Some(ticket.version + 1),
        updated_at: Some(now),
        ..Changes::default()
    };
    let mut to = ticket.status;
    let mut arrive_at = None;
    let (event_kind, note) = match step {
        DeadlineStep::SignForMissed => match ticket.current.parent_id {
            Some(parent) => {
                arrive_at = Some(parent);
                changes.arrived_from = Some(Some(ticket.current.id));
                changes.escalation_count = Some(ticket.escalation_count + 1);
                (
                    "auto_escalate",
                    "not signed for in time: escalated by the deadline worker (督办)",
                )
            }
            None => {
                changes.accept_breached_at = Some(Some(now));
                ("accept_overdue", "not signed for in time at the committee")
            }
        },
        DeadlineStep::ResolveMissed => {
            changes.resolve_breached_at = Some(Some(now));
            ("resolve_overdue", "not resolved in time")
        }
        DeadlineStep::AutoClose => {
            to = Status::Closed;
            changes.status = Some(Status::Closed);
            changes.closed_at = Some(Some(now));
            (
                "auto_close",
                "closed automatically: the reporter did not confirm within 7 days",
            )
        }
    };
    Plan {
        from: ticket.status,
        to,
        changes,
        arrive_at,
        event_kind,
        note: Some(note.to_owned()),
        from_unit: ticket.current.id,
        linked_event: None,
    }
}
