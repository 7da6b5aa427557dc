//! Deadline extensions (延期申请): the unit handling a ticket asks for more
//! time, the level above approves or denies, each inside the caller's write
//! transaction; approval moves the resolve deadline. Every step goes on the
//! ticket's timeline.

use chrono::NaiveDateTime;

use crate::db::models::{ExtensionRow, NewEventRow, NewExtensionRow, TicketRow};
use crate::db::tickets::{self as db, TicketChanges};
use crate::db::{AnyConnection, queries};
use crate::domain::extensions::{self as rules, Decision, ExtensionStatus, Refusal, TicketNow, TimelineEntry};
use crate::domain::ids::UserId;
use crate::domain::text::Text;
use crate::error::ApiError;
use crate::policy::Caller;
use crate::policy::extensions::{DecideRefused, may_decide_extension};
use crate::policy::tickets::can_work;
use crate::service::visibility::TicketContext;

/// Loads a ticket the caller may read (404 otherwise), locked for a change,
/// and whether the caller works it.
fn readable_ticket(conn: &mut AnyConnection, caller: &Caller, id: i64) -> Result<(TicketRow, bool), ApiError> {
    let ticket = db::lock_ticket(conn, id)?.ok_or(ApiError::NotFound)?;
    let context = TicketContext::load(conn, std::slice::from_ref(&ticket))?;
    let visited = context.visited_paths(&ticket);
    let parties = context.party_user_ids(&ticket);
    let facts = context.readable(caller, &ticket, &visited, &parties)?;
    let works = can_work(caller, &facts);
    Ok((ticket, works))
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::TicketNotOpen => ApiError::conflict(
            "ticket_not_open",
            "Only an open ticket (assigned or accepted) can get more time.",
            "只有处理中的工单才能申请延期。",
        ),
        Refusal::AlreadyPending => ApiError::conflict(
            "extension_pending",
            "A request for this ticket is already waiting for a decision.",
            "该工单已有待审批的延期申请。",
        ),
        Refusal::AlreadyDecided => ApiError::conflict(
            "extension_decided",
            "This request has been decided already.",
            "该延期申请已审批。",
        ),
        Refusal::Stale => ApiError::conflict(
            "extension_stale",
            "The ticket has moved on since the request; it can only be denied.",
            "工单已流转，该申请只能驳回。",
        ),
    }
}

/// The timeline event of a request step, tied to the unit that asked.
fn event(ticket_id: i64, entry: TimelineEntry, actor: &Caller, unit_id: i64, now: NaiveDateTime) -> NewEventRow {
    NewEventRow {
        from_unit_id: Some(unit_id),
        ..NewEventRow::note(ticket_id, entry.kind, actor.id.0, entry.note, now)
    }
}

/// Asks for `hours` (validated: 1–720) more to resolve ticket `ticket_id`.
/// By staff working the open ticket; one pending request per ticket.
pub fn request_extension(
    conn: &mut AnyConnection,
    caller: &Caller,
    ticket_id: i64,
    hours: i32,
    reason: String,
    now: NaiveDateTime,
) -> Result<ExtensionRow, ApiError> {
    let (ticket, works) = readable_ticket(conn, caller, ticket_id)?;
    if !works {
        return Err(ApiError::Forbidden);
    }
    let earlier: Vec<ExtensionStatus> = db::extensions_of(conn, ticket_id)?
        .into_iter()
        .map(|e| e.status)
        .collect();
    rules::may_request(ticket.status, &earlier).map_err(refused)?;
    let entry = rules::requested(hours, &reason);
    let row = db::insert_extension(
        conn,
        &NewExtensionRow {
            ticket_id,
            unit_id: ticket.current_unit_id,
            requested_by: caller.id.0,
            hours,
            reason,
            status: ExtensionStatus::Pending.into(),
            created_at: now,
        },
    )?;
    super::timeline::record(
        conn,
        Some(&ticket),
        &event(ticket_id, entry, caller, ticket.current_unit_id, now),
    )?;
    Ok(row)
}

/// Approves or denies request `id`. By the level above the unit that asked,
/// never by the person who asked (403 `own_request`) nor through an account
/// whose password they set (403 `password_set_by_requester`); approval (only while the ticket is still open at that unit) moves the
/// resolve deadline by the hours asked and clears a breach of the old one.
pub fn decide_extension(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    decision: Decision,
    note: Option<String>,
    now: NaiveDateTime,
) -> Result<ExtensionRow, ApiError> {
    let request = db::find_extension(conn, id)?.ok_or(ApiError::NotFound)?;
    let (ticket, _) = readable_ticket(conn, caller, request.ticket_id)?;
    let unit = queries::find_unit(conn, request.unit_id)?.ok_or(ApiError::Internal)?;
    let parent_path = match unit.parent_id {
        Some(parent) => Some(queries::find_unit(conn, parent)?.ok_or(ApiError::Internal)?.path),
        None => None,
    };
    let known_to_requester = queries::password_known_to(conn, caller.id.0, request.requested_by)?;
    match may_decide_extension(
        caller,
        known_to_requester,
        UserId(request.requested_by),
        &unit.path,
        parent_path.as_deref(),
    ) {
        Ok(()) => {}
        Err(DecideRefused::NotAbove) => return Err(ApiError::Forbidden),
        Err(DecideRefused::OwnRequest) => {
            return Err(ApiError::Refused {
                code: "own_request",
                detail: Text::new(
                    "You asked for this extension; someone else at the level above decides it.",
                    "本人提出的延期申请须由上级其他人员审批。",
                ),
            });
        }
        Err(DecideRefused::PasswordKnownToRequester) => {
            return Err(ApiError::Refused {
                code: "password_set_by_requester",
                detail: Text::new(
                    "The person who asked for this extension set your account's password (directly or through an account whose password they set); change your password, or someone else at the level above decides it.",
                    "您的账号密码由延期申请人（或经其设置密码的账号）设置：请先修改密码，或由上级其他人员审批。",
                ),
            });
        }
    }
    let now_ticket = TicketNow {
        status: ticket.status,
        current_unit_id: ticket.current_unit_id,
    };
    rules::may_decide(request.status, request.unit_id, decision, now_ticket).map_err(refused)?;
    let entry = rules::decided(decision, request.hours, note.as_deref());
    let row = db::decide_extension(conn, id, decision.status().as_str(), caller.id.0, note, now)?;
    let mut ticket = ticket;
    if decision == Decision::Approve {
        let changes = TicketChanges {
            resolve_due_at: Some(rules::extended_deadline(ticket.resolve_due_at, request.hours)),
            resolve_breached_at: Some(None),
            version: Some(ticket.version + 1),
            updated_at: Some(now),
            ..Default::default()
        };
        ticket = db::update_ticket(conn, ticket.id, &changes)?;
    }
    super::timeline::record(
        conn,
        Some(&ticket),
        &event(ticket.id, entry, caller, request.unit_id, now),
    )?;
    Ok(row)
}

/// Ticket `ticket_id`'s requests, oldest first, for everyone who may read it.
pub fn extensions_of(conn: &mut AnyConnection, caller: &Caller, ticket_id: i64) -> Result<Vec<ExtensionRow>, ApiError> {
    let ticket = db::find_ticket(conn, ticket_id)?.ok_or(ApiError::NotFound)?;
    TicketContext::load(conn, std::slice::from_ref(&ticket))?.ensure_readable(caller, &ticket)?;
    Ok(db::extensions_of(conn, ticket_id)?)
}
