//! The ticket lifecycle, planned without a database: given the ticket as it
//! stands, a step with its validated input and the few facts the step needs
//! (gathered by `service::lifecycle`), `plan` answers what changes, where
//! the ticket goes and what the timeline records, or why it may not happen.
//! The deadline worker's steps (督办) are planned here too, so a ticket
//! arriving at a unit is reset the same way whoever moves it.

use chrono::{Duration, NaiveDateTime};

use super::grid::Level;
use super::ids::{TicketId, UnitId};
use super::mediation::MediationOutcome;
use super::notify::Deadline;
use super::sla::{Breach, Clocks, stopped_late};
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
    /// Its deadlines at the current unit.
    pub clocks: Clocks,
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
    /// A dispute's outcome (调解结果), once resolved or referred.
    pub outcome: Option<Option<MediationOutcome>>,
    /// An arrival at a unit: the deadlines' time runs from here.
    pub arrived_at: Option<NaiveDateTime>,
}

/// The deadlines at a unit, from its SLA rules (`service` looks them up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// When the ticket arrived, the start of both deadlines' time.
    pub from: NaiveDateTime,
    pub accept_due_at: NaiveDateTime,
    pub resolve_due_at: NaiveDateTime,
}

impl Changes {
    /// Every arrival at a unit needs signing for again, with fresh
    /// deadlines and no breach carried over from the unit it left.
    pub fn arrive(&mut self, unit: UnitId, deadlines: Deadlines) {
        self.current_unit = Some(unit);
        self.arrived_at = Some(deadlines.from);
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
    /// Deadlines this step finds missed (the worker's) or stops after they
    /// ran out: they stay on the unit's record (`service` writes them
    /// beside the event).
    pub breaches: Vec<Breach>,
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
                changes.outcome = Some(Some(MediationOutcome::Settled));
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
                changes.outcome = Some(Some(MediationOutcome::NotSettled));
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
    let breaches = stopped_late(
        &ticket.clocks,
        ticket.current.id,
        ticket.status,
        next,
        arrive_at.is_some(),
        now,
    );
    Ok(Plan {
        from: ticket.status,
        to: next,
        changes,
        arrive_at,
        event_kind: action.as_str(),
        note,
        from_unit: ticket.current.id,
        linked_event,
        breaches,
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
    // A missed deadline is the unit's holding the ticket, wherever it goes next.
    let missed = |deadline| Breach {
        unit: ticket.current.id,
        deadline,
    };
    let mut breaches = Vec::new();
    let (event_kind, note) = match step {
        DeadlineStep::SignForMissed => match ticket.current.parent_id {
            Some(parent) => {
                arrive_at = Some(parent);
                changes.arrived_from = Some(Some(ticket.current.id));
                changes.escalation_count = Some(ticket.escalation_count + 1);
                breaches.push(missed(Deadline::SignFor));
                // Leaving stops the resolve clock too, which may have run out.
                if ticket.clocks.unrecorded_miss(Deadline::Resolve, now) {
                    breaches.push(missed(Deadline::Resolve));
                }
                (
                    "auto_escalate",
                    "not signed for in time: escalated by the deadline worker (督办)",
                )
            }
            None => {
                changes.accept_breached_at = Some(Some(now));
                breaches.push(missed(Deadline::SignFor));
                ("accept_overdue", "not signed for in time at the committee")
            }
        },
        DeadlineStep::ResolveMissed => {
            changes.resolve_breached_at = Some(Some(now));
            breaches.push(missed(Deadline::Resolve));
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
        breaches,
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    // The grid: committee 1 › branch 2 › building 3 › household 4, and
    // another branch 5 › building 6 beside them.
    fn unit(level: Level) -> UnitFacts {
        let (id, parent_id, path) = match level {
            Level::Committee => (1, None, "/1/"),
            Level::Branch => (2, Some(1), "/1/2/"),
            Level::Building => (3, Some(2), "/1/2/3/"),
            Level::Household => (4, Some(3), "/1/2/3/4/"),
        };
        UnitFacts {
            id: UnitId(id),
            parent_id: parent_id.map(UnitId),
            level,
            path: path.to_owned(),
        }
    }

    fn other_branch_building() -> UnitFacts {
        UnitFacts {
            id: UnitId(6),
            parent_id: Some(UnitId(5)),
            level: Level::Building,
            path: "/1/5/6/".to_owned(),
        }
    }

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 10)
            .and_then(|d| d.and_hms_opt(9, 0, 0))
            .expect("a valid date")
    }

    /// A complaint waiting at the household, version 3.
    fn ticket() -> TicketState {
        TicketState {
            id: TicketId(10),
            kind: Kind::Complaint,
            status: Status::Assigned,
            community_id: 1,
            current: unit(Level::Household),
            arrived_from: None,
            resolved_at: None,
            resolved_unit: None,
            bounce_count: 0,
            escalation_count: 0,
            reopen_count: 0,
            version: 3,
            clocks: in_time(),
        }
    }

    /// Deadlines a day away.
    fn in_time() -> Clocks {
        Clocks {
            accept_due_at: now() + Duration::days(1),
            resolve_due_at: now() + Duration::days(1),
            accept_breach_recorded: false,
            resolve_breach_recorded: false,
        }
    }

    /// Deadlines an hour gone.
    fn overdue() -> Clocks {
        Clocks {
            accept_due_at: now() - Duration::hours(1),
            resolve_due_at: now() - Duration::hours(1),
            ..in_time()
        }
    }

    fn breach_at(unit: i64, deadline: Deadline) -> Vec<Breach> {
        vec![Breach {
            unit: UnitId(unit),
            deadline,
        }]
    }

    fn at(level: Level, status: Status) -> TicketState {
        TicketState {
            status,
            current: unit(level),
            ..ticket()
        }
    }

    fn dispute(status: Status) -> TicketState {
        TicketState {
            kind: Kind::Dispute,
            ..at(Level::Building, status)
        }
    }

    /// Resolved at the household `ago` before now.
    fn resolved(ago: Duration) -> TicketState {
        TicketState {
            resolved_at: Some(now() - ago),
            resolved_unit: Some(UnitId(4)),
            ..at(Level::Household, Status::Resolved)
        }
    }

    fn facts(permitted: &[Action]) -> Facts {
        Facts {
            permitted: permitted.to_vec(),
            ..Facts::default()
        }
    }

    fn anyone() -> Facts {
        facts(&Action::ALL)
    }

    fn dispatching(target: UnitFacts, caller_works_there: bool) -> Facts {
        Facts {
            current_has_children: true,
            dispatch_target: Some(DispatchTarget {
                unit: target,
                caller_works_there,
            }),
            ..anyone()
        }
    }

    fn merging(id: i64, community_id: i64, status: Status) -> Facts {
        Facts {
            primary: Some(Primary {
                id: TicketId(id),
                community_id,
                status,
            }),
            ..anyone()
        }
    }

    fn planned(ticket: &TicketState, step: Step, facts: &Facts) -> Plan {
        plan(ticket, step, facts, now()).expect("the step is planned")
    }

    fn refused(ticket: &TicketState, step: Step, facts: &Facts) -> Refusal {
        plan(ticket, step, facts, now()).expect_err("the step is refused")
    }

    fn reason(s: &str) -> String {
        s.to_owned()
    }

    /// What every step changes: the status, the version and `updated_at`.
    fn bumped(to: Status) -> Changes {
        Changes {
            status: Some(to),
            version: Some(4),
            updated_at: Some(now()),
            ..Changes::default()
        }
    }

    /// A plan that stays at the ticket's unit and links nothing.
    fn stays(ticket: &TicketState, to: Status, changes: Changes, event_kind: &'static str, note: Option<&str>) -> Plan {
        Plan {
            from: ticket.status,
            to,
            changes,
            arrive_at: None,
            event_kind,
            note: note.map(str::to_owned),
            from_unit: ticket.current.id,
            linked_event: None,
            breaches: Vec::new(),
        }
    }

    // The version, first of all.

    #[test]
    fn an_if_match_naming_another_version_fails_the_precondition() {
        let f = Facts {
            expected: Some(Expected::IfMatch(2)),
            ..anyone()
        };
        assert_eq!(
            refused(&ticket(), Step::Accept, &f),
            Refusal::IfMatchFailed { current_version: 3 }
        );
    }

    #[test]
    fn a_stale_body_version_is_a_conflict() {
        let f = Facts {
            expected: Some(Expected::Body(7)),
            ..anyone()
        };
        assert_eq!(
            refused(&ticket(), Step::Accept, &f),
            Refusal::StaleVersion { current_version: 3 }
        );
    }

    #[test]
    fn a_matching_version_passes_either_way() {
        for expected in [None, Some(Expected::IfMatch(3)), Some(Expected::Body(3))] {
            let f = Facts { expected, ..anyone() };
            assert_eq!(
                planned(&ticket(), Step::Accept, &f).to,
                Status::Accepted,
                "{expected:?}"
            );
        }
    }

    #[test]
    fn the_version_is_checked_before_permission_and_the_status_machine() {
        let closed = at(Level::Household, Status::Closed);
        for (expected, refusal) in [
            (Expected::IfMatch(1), Refusal::IfMatchFailed { current_version: 3 }),
            (Expected::Body(1), Refusal::StaleVersion { current_version: 3 }),
        ] {
            let f = Facts {
                expected: Some(expected),
                ..facts(&[])
            };
            assert_eq!(refused(&closed, Step::Accept, &f), refusal);
        }
    }

    // Then who may, then the status machine.

    #[test]
    fn an_action_not_permitted_is_refused_before_the_status_machine() {
        let everything_but_accept: Vec<Action> = Action::ALL.into_iter().filter(|a| *a != Action::Accept).collect();
        let f = facts(&everything_but_accept);
        assert_eq!(refused(&ticket(), Step::Accept, &f), Refusal::NotPermitted);
        // Even where the status machine would refuse it too.
        let closed = at(Level::Household, Status::Closed);
        assert_eq!(refused(&closed, Step::Accept, &f), Refusal::NotPermitted);
    }

    #[test]
    fn invalid_transitions_offer_only_what_is_possible_here_and_permitted() {
        // The household worker of tests/api/lifecycle.rs, on an assigned ticket.
        let worker = facts(&[
            Action::Accept,
            Action::Resolve,
            Action::Escalate,
            Action::Dispatch,
            Action::Return,
            Action::Reject,
            Action::Merge,
        ]);
        let step = Step::Resolve { note: reason("x") };
        assert_eq!(
            refused(&ticket(), step, &worker),
            Refusal::InvalidTransition {
                action: Action::Resolve,
                status: Status::Assigned,
                allowed: vec![Action::Accept, Action::Escalate, Action::Reject, Action::Merge],
            }
        );
    }

    #[test]
    fn the_reporter_is_offered_withdraw_on_an_open_ticket() {
        let reporter = facts(&[Action::Reopen, Action::Close, Action::Withdraw]);
        let step = Step::Close {
            rating: 5,
            feedback: None,
        };
        assert_eq!(
            refused(&ticket(), step, &reporter),
            Refusal::InvalidTransition {
                action: Action::Close,
                status: Status::Assigned,
                allowed: vec![Action::Withdraw],
            }
        );
    }

    #[test]
    fn at_the_committee_escalation_is_not_offered_but_return_is_after_an_arrival() {
        let t = TicketState {
            arrived_from: Some(UnitId(2)),
            ..at(Level::Committee, Status::Assigned)
        };
        let step = Step::Resolve { note: reason("x") };
        assert_eq!(
            refused(&t, step, &anyone()),
            Refusal::InvalidTransition {
                action: Action::Resolve,
                status: Status::Assigned,
                allowed: vec![
                    Action::Accept,
                    Action::Dispatch,
                    Action::Return,
                    Action::Withdraw,
                    Action::Reject,
                    Action::Refer,
                    Action::Merge,
                ],
            }
        );
    }

    #[test]
    fn a_final_ticket_offers_nothing() {
        let t = at(Level::Household, Status::Withdrawn);
        assert_eq!(
            refused(&t, Step::Accept, &anyone()),
            Refusal::InvalidTransition {
                action: Action::Accept,
                status: Status::Withdrawn,
                allowed: vec![],
            }
        );
    }

    #[test]
    fn the_status_machine_comes_before_the_steps_own_rules() {
        let invalid = |r: Refusal| matches!(r, Refusal::InvalidTransition { .. });
        // No agreement, but not accepted yet either.
        assert!(invalid(refused(
            &dispute(Status::Assigned),
            Step::Resolve { note: reason("x") },
            &anyone()
        )));
        // Nothing above the committee, but resolved anyway.
        let step = Step::Escalate { reason: reason("x") };
        assert!(invalid(refused(
            &at(Level::Committee, Status::Resolved),
            step,
            &anyone()
        )));
        // Into itself, but already rejected.
        let step = Step::Merge {
            into: TicketId(10),
            note: None,
        };
        assert!(invalid(refused(
            &at(Level::Building, Status::Rejected),
            step,
            &anyone()
        )));
        // Nothing to return, but accepted (only an assigned ticket returns).
        let step = Step::Return { reason: reason("x") };
        assert!(invalid(refused(
            &at(Level::Building, Status::Accepted),
            step,
            &anyone()
        )));
    }

    // Each step.

    #[test]
    fn accept_signs_for_the_ticket_where_it_is() {
        let t = ticket();
        let changes = Changes {
            accepted_at: Some(Some(now())),
            ..bumped(Status::Accepted)
        };
        assert_eq!(
            planned(&t, Step::Accept, &anyone()),
            stays(&t, Status::Accepted, changes, "accept", None)
        );
    }

    #[test]
    fn a_complaint_resolves_with_its_note_at_the_current_unit() {
        let t = at(Level::Household, Status::Accepted);
        let changes = Changes {
            resolution: Some(Some(reason("已协调"))),
            resolved_at: Some(Some(now())),
            resolved_unit: Some(Some(UnitId(4))),
            ..bumped(Status::Resolved)
        };
        assert_eq!(
            planned(
                &t,
                Step::Resolve {
                    note: reason("已协调")
                },
                &anyone()
            ),
            stays(&t, Status::Resolved, changes, "resolve", Some("已协调"))
        );
    }

    #[test]
    fn a_deadline_stopped_after_it_ran_out_is_a_breach_of_the_unit_holding_the_ticket() {
        let late = TicketState {
            clocks: overdue(),
            ..at(Level::Building, Status::Assigned)
        };
        assert_eq!(
            planned(&late, Step::Accept, &anyone()).breaches,
            breach_at(3, Deadline::SignFor)
        );
        let step = Step::Resolve { note: reason("x") };
        let accepted = TicketState {
            status: Status::Accepted,
            ..late.clone()
        };
        assert_eq!(
            planned(&accepted, step, &anyone()).breaches,
            breach_at(3, Deadline::Resolve)
        );
        // Escalated by hand before the worker came: both clocks stopped
        // late, on the building's record, not the branch's.
        let step = Step::Escalate { reason: reason("x") };
        let plan = planned(&late, step, &anyone());
        assert_eq!(plan.arrive_at, Some(UnitId(2)));
        assert_eq!(
            plan.breaches,
            [breach_at(3, Deadline::SignFor), breach_at(3, Deadline::Resolve)].concat()
        );
        // In time, nothing is recorded.
        let step = Step::Resolve { note: reason("x") };
        assert_eq!(
            planned(&at(Level::Building, Status::Accepted), step, &anyone()).breaches,
            []
        );
        // A miss the worker already recorded here is not counted twice.
        let flagged = TicketState {
            clocks: Clocks {
                accept_breach_recorded: true,
                resolve_breach_recorded: true,
                ..overdue()
            },
            ..at(Level::Committee, Status::Assigned)
        };
        assert_eq!(planned(&flagged, Step::Accept, &anyone()).breaches, []);
    }

    #[test]
    fn a_dispute_resolves_only_under_an_agreement() {
        let step = Step::Resolve { note: reason("调解") };
        assert_eq!(
            refused(&dispute(Status::Accepted), step, &anyone()),
            Refusal::AgreementRequired
        );
    }

    #[test]
    fn a_dispute_with_its_agreement_resolves_as_settled() {
        let t = dispute(Status::Accepted);
        let f = Facts {
            has_agreement: true,
            ..anyone()
        };
        let changes = Changes {
            resolution: Some(Some(reason("调解成功"))),
            resolved_at: Some(Some(now())),
            resolved_unit: Some(Some(UnitId(3))),
            outcome: Some(Some(MediationOutcome::Settled)),
            ..bumped(Status::Resolved)
        };
        assert_eq!(
            planned(
                &t,
                Step::Resolve {
                    note: reason("调解成功")
                },
                &f
            ),
            stays(&t, Status::Resolved, changes, "resolve", Some("调解成功"))
        );
        assert_eq!(MediationOutcome::Settled.as_str(), "settled");
    }

    #[test]
    fn escalation_goes_to_the_parent_and_remembers_where_it_came_from() {
        let t = TicketState {
            escalation_count: 1,
            ..at(Level::Household, Status::Accepted)
        };
        let changes = Changes {
            escalation_count: Some(2),
            arrived_from: Some(Some(UnitId(4))),
            ..bumped(Status::Assigned)
        };
        assert_eq!(
            planned(
                &t,
                Step::Escalate {
                    reason: reason("需要楼栋协调")
                },
                &anyone()
            ),
            Plan {
                arrive_at: Some(UnitId(3)),
                ..stays(&t, Status::Assigned, changes, "escalate", Some("需要楼栋协调"))
            }
        );
    }

    #[test]
    fn nothing_is_above_the_committee() {
        let step = Step::Escalate { reason: reason("x") };
        assert_eq!(
            refused(&at(Level::Committee, Status::Accepted), step, &anyone()),
            Refusal::NoParent
        );
    }

    #[test]
    fn dispatch_hands_the_ticket_to_a_unit_below_with_its_note() {
        let t = at(Level::Branch, Status::Accepted);
        let step = Step::Dispatch {
            unit_id: UnitId(3),
            note: Some(reason("请楼栋先了解")),
        };
        let changes = Changes {
            arrived_from: Some(Some(UnitId(2))),
            ..bumped(Status::Assigned)
        };
        assert_eq!(
            planned(&t, step, &dispatching(unit(Level::Building), true)),
            Plan {
                arrive_at: Some(UnitId(3)),
                ..stays(&t, Status::Assigned, changes, "dispatch", Some("请楼栋先了解"))
            }
        );
    }

    #[test]
    fn dispatch_may_skip_levels_and_leave_out_the_note() {
        let t = at(Level::Committee, Status::Assigned);
        let step = Step::Dispatch {
            unit_id: UnitId(4),
            note: None,
        };
        let p = planned(&t, step, &dispatching(unit(Level::Household), true));
        assert_eq!((p.arrive_at, p.note, p.from_unit), (Some(UnitId(4)), None, UnitId(1)));
    }

    fn dispatch_to(id: i64) -> Step {
        Step::Dispatch {
            unit_id: UnitId(id),
            note: None,
        }
    }

    #[test]
    fn a_household_has_nothing_below_to_dispatch_to() {
        // Checked first, whatever the other facts say.
        let t = at(Level::Household, Status::Assigned);
        assert_eq!(
            refused(&t, dispatch_to(3), &dispatching(unit(Level::Building), true)),
            Refusal::HouseholdHasNothingBelow
        );
    }

    #[test]
    fn a_unit_with_nothing_below_cannot_dispatch_whatever_the_target() {
        let t = at(Level::Building, Status::Assigned);
        for target in [None, Some(unit(Level::Household))] {
            let f = Facts {
                current_has_children: false,
                dispatch_target: target.map(|unit| DispatchTarget {
                    unit,
                    caller_works_there: true,
                }),
                ..anyone()
            };
            assert_eq!(refused(&t, dispatch_to(4), &f), Refusal::UnitHasNothingBelow);
        }
    }

    #[test]
    fn dispatch_to_an_unknown_unit_is_not_found() {
        let f = Facts {
            current_has_children: true,
            ..anyone()
        };
        assert_eq!(
            refused(&at(Level::Branch, Status::Assigned), dispatch_to(99), &f),
            Refusal::DispatchTargetNotFound
        );
    }

    #[test]
    fn dispatch_to_the_current_unit_itself_is_not_below_it() {
        assert_eq!(
            refused(
                &at(Level::Branch, Status::Assigned),
                dispatch_to(2),
                &dispatching(unit(Level::Branch), true)
            ),
            Refusal::NotBelowCurrent
        );
    }

    #[test]
    fn dispatch_outside_the_current_subtree_is_not_below_it() {
        let t = at(Level::Branch, Status::Assigned);
        // Another branch's building, above, and a path that only shares a prefix.
        let prefix_only = UnitFacts {
            id: UnitId(7),
            parent_id: Some(UnitId(22)),
            level: Level::Building,
            path: "/1/22/7/".to_owned(),
        };
        for target in [other_branch_building(), unit(Level::Committee), prefix_only] {
            let id = target.id.0;
            assert_eq!(
                refused(&t, dispatch_to(id), &dispatching(target, true)),
                Refusal::NotBelowCurrent,
                "{id}"
            );
        }
    }

    #[test]
    fn dispatch_below_but_outside_the_callers_posts_is_not_below_it() {
        assert_eq!(
            refused(
                &at(Level::Branch, Status::Assigned),
                dispatch_to(3),
                &dispatching(unit(Level::Building), false)
            ),
            Refusal::NotBelowCurrent
        );
    }

    #[test]
    fn return_sends_the_ticket_back_where_it_came_from() {
        let t = TicketState {
            arrived_from: Some(UnitId(4)),
            bounce_count: 1,
            ..at(Level::Building, Status::Assigned)
        };
        let changes = Changes {
            bounce_count: Some(2),
            arrived_from: Some(None),
            ..bumped(Status::Assigned)
        };
        assert_eq!(
            planned(
                &t,
                Step::Return {
                    reason: reason("请中心户处理")
                },
                &anyone()
            ),
            Plan {
                arrive_at: Some(UnitId(4)),
                ..stays(&t, Status::Assigned, changes, "return", Some("请中心户处理"))
            }
        );
    }

    #[test]
    fn a_ticket_that_did_not_arrive_from_elsewhere_has_nothing_to_return() {
        // E.g. one that arrived by return: `arrived_from` was cleared.
        let step = Step::Return { reason: reason("x") };
        assert_eq!(refused(&ticket(), step, &anyone()), Refusal::NothingToReturn);
    }

    #[test]
    fn reopen_goes_back_to_the_resolving_unit_and_clears_the_resolution() {
        let t = TicketState {
            current: unit(Level::Building),
            arrived_from: Some(UnitId(4)),
            reopen_count: 1,
            ..resolved(Duration::days(2))
        };
        let changes = Changes {
            reopen_count: Some(2),
            arrived_from: Some(None),
            resolved_at: Some(None),
            resolution: Some(None),
            outcome: Some(None),
            ..bumped(Status::Assigned)
        };
        assert_eq!(
            planned(
                &t,
                Step::Reopen {
                    reason: reason("噪音依旧")
                },
                &anyone()
            ),
            Plan {
                arrive_at: Some(UnitId(4)),
                ..stays(&t, Status::Assigned, changes, "reopen", Some("噪音依旧"))
            }
        );
    }

    #[test]
    fn reopen_without_a_resolving_unit_goes_back_to_the_current_unit() {
        let t = TicketState {
            resolved_unit: None,
            ..resolved(Duration::days(1))
        };
        let p = planned(&t, Step::Reopen { reason: reason("x") }, &anyone());
        assert_eq!(p.arrive_at, Some(UnitId(4)));
    }

    #[test]
    fn the_reopen_window_is_open_for_exactly_seven_days() {
        let step = || Step::Reopen { reason: reason("x") };
        let seven_days = Duration::days(REOPEN_WINDOW_DAYS);
        assert_eq!(planned(&resolved(seven_days), step(), &anyone()).to, Status::Assigned);
        assert_eq!(
            refused(&resolved(seven_days + Duration::seconds(1)), step(), &anyone()),
            Refusal::ReopenWindowClosed
        );
        assert!(reopen_window_open(now() - seven_days, now()));
        assert!(!reopen_window_open(now() - seven_days - Duration::seconds(1), now()));
    }

    #[test]
    fn a_resolved_ticket_without_resolved_at_is_inconsistent() {
        let t = TicketState {
            resolved_at: None,
            ..resolved(Duration::days(1))
        };
        assert!(matches!(
            refused(&t, Step::Reopen { reason: reason("x") }, &anyone()),
            Refusal::Inconsistent(_)
        ));
    }

    #[test]
    fn close_rates_the_resolution_with_the_feedback_as_the_note() {
        let t = resolved(Duration::days(1));
        let step = Step::Close {
            rating: 5,
            feedback: Some(reason("很满意")),
        };
        let changes = Changes {
            rating: Some(Some(5)),
            feedback: Some(Some(reason("很满意"))),
            closed_at: Some(Some(now())),
            ..bumped(Status::Closed)
        };
        assert_eq!(
            planned(&t, step, &anyone()),
            stays(&t, Status::Closed, changes, "close", Some("很满意"))
        );
    }

    #[test]
    fn close_without_feedback_records_none_and_has_no_note() {
        let step = Step::Close {
            rating: 2,
            feedback: None,
        };
        let p = planned(&resolved(Duration::days(8)), step, &anyone());
        assert_eq!(
            (p.changes.rating, p.changes.feedback, p.note),
            (Some(Some(2)), Some(None), None)
        );
    }

    #[test]
    fn withdraw_and_reject_close_with_the_reason() {
        let t = at(Level::Building, Status::Accepted);
        let changes = || Changes {
            closed_at: Some(Some(now())),
            ..bumped(Status::Withdrawn)
        };
        assert_eq!(
            planned(
                &t,
                Step::Withdraw {
                    reason: reason("已自行解决")
                },
                &anyone()
            ),
            stays(&t, Status::Withdrawn, changes(), "withdraw", Some("已自行解决"))
        );
        let rejected = Changes {
            status: Some(Status::Rejected),
            ..changes()
        };
        assert_eq!(
            planned(
                &t,
                Step::Reject {
                    reason: reason("不属于社区管辖")
                },
                &anyone()
            ),
            stays(&t, Status::Rejected, rejected, "reject", Some("不属于社区管辖"))
        );
    }

    #[test]
    fn a_referred_complaint_names_its_target_and_has_no_outcome() {
        let t = at(Level::Committee, Status::Accepted);
        let step = Step::Refer {
            target: reason("12345市长热线"),
            note: Some(reason("市政问题")),
        };
        let changes = Changes {
            referred_to: Some(Some(reason("12345市长热线"))),
            closed_at: Some(Some(now())),
            ..bumped(Status::Referred)
        };
        assert_eq!(
            planned(&t, step, &anyone()),
            stays(&t, Status::Referred, changes, "refer", Some("12345市长热线: 市政问题"))
        );
    }

    #[test]
    fn a_referred_dispute_is_not_settled() {
        let t = dispute(Status::Assigned);
        let step = Step::Refer {
            target: reason("人民调解委员会"),
            note: None,
        };
        let changes = Changes {
            referred_to: Some(Some(reason("人民调解委员会"))),
            closed_at: Some(Some(now())),
            outcome: Some(Some(MediationOutcome::NotSettled)),
            ..bumped(Status::Referred)
        };
        assert_eq!(
            planned(&t, step, &anyone()),
            stays(&t, Status::Referred, changes, "refer", Some("人民调解委员会"))
        );
        assert_eq!(MediationOutcome::NotSettled.as_str(), "not_settled");
    }

    #[test]
    fn merge_closes_the_duplicate_and_tells_the_primary() {
        let t = at(Level::Building, Status::Assigned);
        let step = Step::Merge {
            into: TicketId(7),
            note: Some(reason("同一漏水")),
        };
        let changes = Changes {
            merged_into: Some(Some(TicketId(7))),
            closed_at: Some(Some(now())),
            ..bumped(Status::Merged)
        };
        assert_eq!(
            planned(&t, step, &merging(7, 1, Status::Accepted)),
            Plan {
                linked_event: Some(LinkedEvent {
                    ticket: TicketId(7),
                    kind: "merged_duplicate",
                    note: reason("ticket 10 merged into this one"),
                }),
                ..stays(
                    &t,
                    Status::Merged,
                    changes,
                    "merge",
                    Some("duplicate of ticket 7: 同一漏水")
                )
            }
        );
    }

    #[test]
    fn merge_into_any_primary_but_a_merged_one() {
        let t = at(Level::Building, Status::Accepted);
        for status in Status::ALL {
            let step = Step::Merge {
                into: TicketId(7),
                note: None,
            };
            let result = plan(&t, step, &merging(7, 1, status), now());
            if status == Status::Merged {
                assert_eq!(result, Err(Refusal::NotMergeable));
            } else {
                let p = result.expect("mergeable");
                assert_eq!(p.note.as_deref(), Some("duplicate of ticket 7"), "{status:?}");
            }
        }
    }

    #[test]
    fn a_ticket_cannot_merge_into_itself_before_the_primary_is_looked_at() {
        let step = || Step::Merge {
            into: TicketId(10),
            note: None,
        };
        // The service looks nothing up for it; and were it found, still itself.
        assert_eq!(refused(&ticket(), step(), &anyone()), Refusal::MergeIntoItself);
        assert_eq!(
            refused(&ticket(), step(), &merging(10, 1, Status::Assigned)),
            Refusal::MergeIntoItself
        );
    }

    #[test]
    fn merge_into_a_ticket_the_caller_cannot_see_is_not_found() {
        let step = Step::Merge {
            into: TicketId(999),
            note: None,
        };
        assert_eq!(refused(&ticket(), step, &anyone()), Refusal::MergeTargetNotFound);
    }

    #[test]
    fn merge_into_another_community_is_not_mergeable() {
        let step = Step::Merge {
            into: TicketId(7),
            note: None,
        };
        assert_eq!(
            refused(&ticket(), step, &merging(7, 2, Status::Assigned)),
            Refusal::NotMergeable
        );
    }

    // Arrivals.

    #[test]
    fn an_arrival_needs_signing_for_again_with_fresh_deadlines_and_no_breach() {
        let later = |h| now() + Duration::hours(h);
        let mut changes = Changes {
            accepted_at: Some(Some(now())),
            accept_breached_at: Some(Some(now())),
            resolve_breached_at: Some(Some(now())),
            ..bumped(Status::Assigned)
        };
        changes.arrive(
            UnitId(3),
            Deadlines {
                from: now(),
                accept_due_at: later(24),
                resolve_due_at: later(72),
            },
        );
        assert_eq!(
            changes,
            Changes {
                current_unit: Some(UnitId(3)),
                arrived_at: Some(now()),
                accept_due_at: Some(later(24)),
                resolve_due_at: Some(later(72)),
                accepted_at: Some(None),
                accept_breached_at: Some(None),
                resolve_breached_at: Some(None),
                ..bumped(Status::Assigned)
            }
        );
    }

    // The deadline worker (督办).

    #[test]
    fn a_missed_sign_for_escalates_to_the_parent() {
        let t = TicketState {
            escalation_count: 1,
            ..at(Level::Building, Status::Assigned)
        };
        let changes = Changes {
            escalation_count: Some(2),
            arrived_from: Some(Some(UnitId(3))),
            version: Some(4),
            updated_at: Some(now()),
            ..Changes::default()
        };
        assert_eq!(
            plan_deadline(&t, DeadlineStep::SignForMissed, now()),
            Plan {
                arrive_at: Some(UnitId(2)),
                // On the building's record, not the branch's it goes to.
                breaches: breach_at(3, Deadline::SignFor),
                ..stays(
                    &t,
                    Status::Assigned,
                    changes,
                    "auto_escalate",
                    Some("not signed for in time: escalated by the deadline worker (督办)")
                )
            }
        );
    }

    #[test]
    fn a_missed_sign_for_at_the_committee_is_flagged_where_it_is() {
        let t = at(Level::Committee, Status::Assigned);
        let changes = Changes {
            accept_breached_at: Some(Some(now())),
            version: Some(4),
            updated_at: Some(now()),
            ..Changes::default()
        };
        assert_eq!(
            plan_deadline(&t, DeadlineStep::SignForMissed, now()),
            Plan {
                breaches: breach_at(1, Deadline::SignFor),
                ..stays(
                    &t,
                    Status::Assigned,
                    changes,
                    "accept_overdue",
                    Some("not signed for in time at the committee")
                )
            }
        );
    }

    #[test]
    fn a_missed_resolve_deadline_is_flagged_and_the_status_kept() {
        let t = at(Level::Building, Status::Accepted);
        let changes = Changes {
            resolve_breached_at: Some(Some(now())),
            version: Some(4),
            updated_at: Some(now()),
            ..Changes::default()
        };
        assert_eq!(
            plan_deadline(&t, DeadlineStep::ResolveMissed, now()),
            Plan {
                breaches: breach_at(3, Deadline::Resolve),
                ..stays(
                    &t,
                    Status::Accepted,
                    changes,
                    "resolve_overdue",
                    Some("not resolved in time")
                )
            }
        );
    }

    #[test]
    fn an_unconfirmed_resolution_is_closed_automatically() {
        let t = resolved(Duration::days(8));
        let changes = Changes {
            closed_at: Some(Some(now())),
            ..bumped(Status::Closed)
        };
        assert_eq!(
            plan_deadline(&t, DeadlineStep::AutoClose, now()),
            stays(
                &t,
                Status::Closed,
                changes,
                "auto_close",
                Some("closed automatically: the reporter did not confirm within 7 days")
            )
        );
    }

    #[test]
    fn auto_close_takes_only_resolutions_the_reporter_can_no_longer_reopen() {
        let cutoff = auto_close_resolved_before(now());
        assert_eq!(cutoff, now() - Duration::days(AUTO_CLOSE_AFTER_DAYS));
        // The worker claims `resolved_at < cutoff`: exactly at it, reopen
        // is still open; a second before, it is closed.
        assert!(reopen_window_open(cutoff, now()));
        assert!(!reopen_window_open(cutoff - Duration::seconds(1), now()));
    }
}
