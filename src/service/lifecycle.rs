//! Applying lifecycle steps to stored tickets: a staff or reporter step
//! (`apply_step`), a deadline worker step (`apply_deadline_step`), and the
//! arrival at a unit both share (`arrive`). The rules are planned in
//! `domain::lifecycle`; who may act is asked of `policy::tickets`.

use chrono::NaiveDateTime;

use crate::db::models::{NewEventRow, TicketRow, UnitPlaceRow};
use crate::db::tickets::{self as db, TicketChanges};
use crate::db::{AnyConnection, breaches, mediation, queries};
use crate::domain::ids::{TicketId, UnitId};
use crate::domain::lifecycle::{
    Changes, DeadlineStep, Deadlines, DispatchTarget, Expected, Facts, Plan, Primary, Refusal, Step, TicketState,
    UnitFacts, plan, plan_deadline,
};
use crate::domain::sla::Clocks;
use crate::domain::text::Invalid;
use crate::domain::ticket::{Action, Kind};
use crate::error::ApiError;
use crate::policy::Caller;
use crate::policy::tickets as policy;
use crate::service::visibility::TicketContext;

/// Applies `step` to ticket `id` for `caller`, inside the caller's
/// transaction. Returns the ticket's id; the handler renders it.
pub fn apply_step(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: TicketId,
    expected: Option<Expected>,
    step: Step,
    now: NaiveDateTime,
) -> Result<TicketId, ApiError> {
    let ticket = db::lock_ticket(conn, id.0)?.ok_or(ApiError::NotFound)?;
    let context = TicketContext::load(conn, std::slice::from_ref(&ticket))?;
    let visited = context.visited_paths(&ticket);
    let parties = context.party_user_ids(&ticket);
    let readable = context.readable(caller, &ticket, &visited, &parties)?;
    let permitted = Action::ALL
        .into_iter()
        .filter(|a| policy::may_act(caller, *a, &readable))
        .collect();
    let current = context.current_unit(&ticket)?;
    let state = state_of(&ticket, current);
    let mut facts = Facts {
        expected,
        permitted,
        ..Facts::default()
    };
    // Only what this step needs is looked up.
    match &step {
        Step::Resolve { .. } if ticket.kind == Kind::Dispute => {
            facts.has_agreement = mediation::find_agreement(conn, ticket.id)?.is_some();
        }
        Step::Dispatch { unit_id, .. } => {
            facts.current_has_children = queries::has_children(conn, current.id)?;
            facts.dispatch_target = queries::find_unit(conn, unit_id.0)?.map(|unit| DispatchTarget {
                caller_works_there: caller.works_in(&unit.path),
                unit: unit_facts(&unit.into()),
            });
        }
        Step::Merge { into, .. } if *into != id => {
            facts.primary = match db::lock_ticket(conn, into.0)? {
                Some(primary)
                    if TicketContext::load(conn, std::slice::from_ref(&primary))?
                        .ensure_readable(caller, &primary)
                        .is_ok() =>
                {
                    Some(Primary {
                        id: TicketId(primary.id),
                        community_id: primary.community_id,
                        status: primary.status,
                    })
                }
                _ => None,
            };
        }
        _ => {}
    }
    let plan = plan(&state, step, &facts, now).map_err(refused)?;
    carry_out(conn, &ticket, plan, Some(caller), now)?;
    Ok(id)
}

/// Applies a deadline worker step to a ticket it claimed; a ticket gone
/// meanwhile is skipped. Returns the plan carried out.
pub fn apply_deadline_step(
    conn: &mut AnyConnection,
    id: TicketId,
    step: DeadlineStep,
    now: NaiveDateTime,
) -> Result<Option<Plan>, ApiError> {
    let Some(ticket) = db::find_ticket(conn, id.0)? else {
        return Ok(None);
    };
    let current = queries::find_unit(conn, ticket.current_unit_id)?.ok_or(ApiError::Internal)?;
    let plan = plan_deadline(&state_of(&ticket, &current.into()), step, now);
    carry_out(conn, &ticket, plan.clone(), None, now)?;
    Ok(Some(plan))
}

/// A ticket arrives at `unit`: the visit is recorded (staff there may read
/// it from now on) and the unit's deadlines looked up.
pub fn arrive(
    conn: &mut AnyConnection,
    ticket: &TicketRow,
    unit: UnitId,
    now: NaiveDateTime,
) -> Result<Deadlines, ApiError> {
    let arrival = queries::find_unit(conn, unit.0)?.ok_or(ApiError::Internal)?;
    let category = db::find_category(conn, ticket.category_id)?.ok_or(ApiError::Internal)?;
    let (accept_due_at, resolve_due_at) = db::arrival_deadlines(conn, &category, ticket.priority, arrival.level, now)?;
    db::record_visit(conn, ticket.id, unit.0)?;
    Ok(Deadlines {
        from: now,
        accept_due_at,
        resolve_due_at,
    })
}

/// Writes a plan: the linked event, the arrival, the ticket's changes, the
/// deadlines missed at the unit it held, and its timeline entry (by
/// `actor`, or the system when `None`).
fn carry_out(
    conn: &mut AnyConnection,
    ticket: &TicketRow,
    plan: Plan,
    actor: Option<&Caller>,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let actor_id = actor.map(|c| c.id.0);
    if let Some(linked) = plan.linked_event {
        super::timeline::record(
            conn,
            None,
            &NewEventRow {
                ticket_id: linked.ticket.0,
                kind: linked.kind.into(),
                actor_id,
                from_status: None,
                to_status: None,
                from_unit_id: None,
                to_unit_id: None,
                note: Some(linked.note),
                internal: false,
                created_at: now,
            },
        )?;
    }
    let mut changes = plan.changes;
    if let Some(unit) = plan.arrive_at {
        let deadlines = arrive(conn, ticket, unit, now)?;
        changes.arrive(unit, deadlines);
    }
    let changed = db::update_ticket(conn, ticket.id, &row_changes(changes))?;
    breaches::record(conn, ticket.id, &plan.breaches, now)?;
    super::timeline::record(
        conn,
        Some(&changed),
        &NewEventRow {
            ticket_id: ticket.id,
            kind: plan.event_kind.into(),
            actor_id,
            from_status: Some(plan.from.as_str().to_owned()),
            to_status: Some(plan.to.as_str().to_owned()),
            from_unit_id: Some(plan.from_unit.0),
            to_unit_id: plan.arrive_at.map(|u| u.0),
            note: plan.note,
            internal: false,
            created_at: now,
        },
    )?;
    Ok(())
}

fn unit_facts(unit: &UnitPlaceRow) -> UnitFacts {
    UnitFacts {
        id: UnitId(unit.id),
        parent_id: unit.parent_id.map(UnitId),
        level: unit.level,
        path: unit.path.clone(),
    }
}

fn state_of(ticket: &TicketRow, current: &UnitPlaceRow) -> TicketState {
    TicketState {
        id: TicketId(ticket.id),
        kind: ticket.kind,
        status: ticket.status,
        community_id: ticket.community_id,
        current: unit_facts(current),
        arrived_from: ticket.arrived_from_unit_id.map(UnitId),
        resolved_at: ticket.resolved_at,
        resolved_unit: ticket.resolved_unit_id.map(UnitId),
        bounce_count: ticket.bounce_count,
        escalation_count: ticket.escalation_count,
        reopen_count: ticket.reopen_count,
        version: ticket.version,
        clocks: Clocks {
            accept_due_at: ticket.accept_due_at,
            resolve_due_at: ticket.resolve_due_at,
            accept_breach_recorded: ticket.accept_breached_at.is_some(),
            resolve_breach_recorded: ticket.resolve_breached_at.is_some(),
        },
    }
}

fn row_changes(c: Changes) -> TicketChanges {
    TicketChanges {
        status: c.status.map(String::from),
        current_unit_id: c.current_unit.map(|u| u.0),
        accept_due_at: c.accept_due_at,
        resolve_due_at: c.resolve_due_at,
        accepted_at: c.accepted_at,
        resolved_at: c.resolved_at,
        closed_at: c.closed_at,
        resolution: c.resolution,
        resolved_unit_id: c.resolved_unit.map(|u| u.map(|u| u.0)),
        rating: c.rating,
        feedback: c.feedback,
        bounce_count: c.bounce_count,
        escalation_count: c.escalation_count,
        reopen_count: c.reopen_count,
        arrived_from_unit_id: c.arrived_from.map(|u| u.map(|u| u.0)),
        merged_into_id: c.merged_into.map(|t| t.map(|t| t.0)),
        referred_to: c.referred_to,
        version: c.version,
        updated_at: c.updated_at,
        accept_breached_at: c.accept_breached_at,
        resolve_breached_at: c.resolve_breached_at,
        outcome: c.outcome.map(|o| o.map(|o| o.as_str().to_owned())),
        arrived_at: c.arrived_at,
    }
}

fn invalid(field: &str, code: &'static str, en: &'static str, zh: &'static str) -> ApiError {
    ApiError::field(field, Invalid::new(code, en, zh))
}

/// The answer for each refusal; the texts are the API's.
fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::IfMatchFailed { current_version } => ApiError::PreconditionFailed { current_version },
        Refusal::StaleVersion { current_version } => ApiError::StaleVersion { current_version },
        Refusal::NotPermitted => ApiError::Forbidden,
        Refusal::InvalidTransition {
            action,
            status,
            allowed,
        } => ApiError::InvalidTransition {
            action: action.as_str(),
            status: status.as_str(),
            allowed: allowed.into_iter().map(Action::as_str).collect(),
        },
        Refusal::AgreementRequired => ApiError::conflict(
            "agreement_required",
            "Record the mediation agreement (PUT /disputes/{id}/agreement) before resolving a dispute as settled; refer a dispute that could not be settled.",
            "纠纷须先录入调解协议才能以调解成功办结；调解不成的请转办。",
        ),
        Refusal::NoParent => ApiError::conflict(
            "no_parent",
            "The ticket is at the committee already: refer it outside the grid instead.",
            "工单已在社区党委，无法再上报；如需请转办。",
        ),
        Refusal::HouseholdHasNothingBelow => ApiError::conflict(
            "nothing_below",
            "A household has no unit below it to dispatch to.",
            "党员中心户没有可下派的下级单元。",
        ),
        Refusal::UnitHasNothingBelow => ApiError::conflict(
            "nothing_below",
            "The ticket's unit has no unit below it to dispatch to.",
            "工单当前单元没有可下派的下级单元。",
        ),
        Refusal::DispatchTargetNotFound => {
            invalid("unit_id", "not_found", "No unit has this id.", "没有此编号的单元。")
        }
        Refusal::NotBelowCurrent => invalid(
            "unit_id",
            "not_below_current",
            "Dispatch to a unit below the ticket's current unit.",
            "只能下派到工单当前单元的下级单元。",
        ),
        Refusal::NothingToReturn => ApiError::conflict(
            "nothing_to_return",
            "Only a ticket that arrived by escalation or dispatch can be sent back.",
            "只有上报或下派来的工单才能退回。",
        ),
        Refusal::ReopenWindowClosed => ApiError::conflict(
            "reopen_window_closed",
            "A resolution can be rejected only within 7 days.",
            "办结超过 7 天后不能再申请重办。",
        ),
        Refusal::MergeIntoItself => invalid(
            "into_ticket_id",
            "itself",
            "A ticket cannot merge into itself.",
            "工单不能合并到自身。",
        ),
        Refusal::MergeTargetNotFound => invalid(
            "into_ticket_id",
            "not_found",
            "No ticket you can see has this id.",
            "没有您可见的此编号工单。",
        ),
        Refusal::NotMergeable => invalid(
            "into_ticket_id",
            "not_mergeable",
            "Merge into a ticket of the same community that is not itself merged.",
            "只能合并到同一社区且未被合并的工单。",
        ),
        Refusal::Inconsistent(what) => ApiError::internal(what),
    }
}
