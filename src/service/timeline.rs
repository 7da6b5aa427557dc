//! Appending to a ticket's timeline, and telling people: every event goes
//! in through [`record`], which writes the notifications it causes
//! (`domain::notify`) in the same transaction, so an event is never
//! committed without them, nor they without it.

use chrono::NaiveDateTime;

use crate::db::AnyConnection;
use crate::db::batch::When;
use crate::db::models::{EventRow, NewEventRow, TicketRow};
use crate::db::notifications::{self as store, NewNotificationRow};
use crate::db::queries;
use crate::db::tickets as db;
use crate::db::webhooks;
use crate::domain::grid::Level;
use crate::domain::ids::{UnitId, UserId};
use crate::domain::notify::{self, Deadline, EventFacts, Notice, Recipient};
use crate::domain::ticket::{EventKind, Kind};
use crate::error::ApiError;

/// Appends `event` to its ticket's timeline and writes whom it tells.
/// `ticket` is the ticket as it stands after the event, when the caller
/// holds it; otherwise it is read.
pub fn record(conn: &mut AnyConnection, ticket: Option<&TicketRow>, event: &NewEventRow) -> Result<EventRow, ApiError> {
    let row = db::insert_event(conn, event)?;
    let read;
    let ticket = match ticket {
        Some(ticket) => ticket,
        None => {
            read = db::find_ticket(conn, event.ticket_id)?.ok_or(ApiError::Internal)?;
            &read
        }
    };
    notify(conn, ticket, &row, When::Now)?;
    Ok(row)
}

/// Writes whom `event`, already appended, tells: what [`record`] does
/// after the insert, for a writer that appended the event itself (filing,
/// with the rows it writes alongside).
/// With [`When::Deferred`] what it writes waits for the transaction's last
/// statement on PostgreSQL (`batch::defer`).
pub fn tell(conn: &mut AnyConnection, ticket: &TicketRow, event: &EventRow, when: When) -> Result<(), ApiError> {
    notify(conn, ticket, event, when)
}

fn notify(conn: &mut AnyConnection, ticket: &TicketRow, event: &EventRow, when: When) -> Result<(), ApiError> {
    let kind = event.kind;
    let moves = matches!(
        kind,
        EventKind::Escalate | EventKind::AutoEscalate | EventKind::Dispatch | EventKind::Return
    );
    // Levels only matter to tell up from down.
    let levels = match (event.from_unit_id, event.to_unit_id) {
        (Some(from), Some(to)) if moves => Some((level_of(conn, from)?, level_of(conn, to)?)),
        _ => None,
    };
    // The unit above the one that missed a deadline to resolve, or asks for time.
    let unit_above = match kind {
        EventKind::ResolveOverdue => parent_of(conn, ticket.current_unit_id)?,
        EventKind::ExtensionRequested => parent_of(conn, event.from_unit_id.unwrap_or(ticket.current_unit_id))?,
        _ => None,
    };
    let parties: Vec<UserId> = if ticket.kind == Kind::Dispute {
        db::parties_of(conn, &[ticket.id])?
            .into_iter()
            .filter_map(|p| p.user_id.map(UserId))
            .collect()
    } else {
        Vec::new()
    };
    let facts = EventFacts {
        kind,
        actor: event.actor_id.map(UserId),
        internal: event.internal,
        reporter: UserId(ticket.reporter_id),
        parties: &parties,
        to_unit: event.to_unit_id.map(UnitId),
        levels,
        from_unit: event.from_unit_id.map(UnitId),
        unit_above,
        current_unit: UnitId(ticket.current_unit_id),
        accept_due_at: ticket.accept_due_at,
        resolve_due_at: ticket.resolve_due_at,
        resolved_at: ticket.resolved_at,
    };
    write_notices(
        conn,
        notify::notices(&facts),
        event.actor_id,
        ticket,
        Some(event.id),
        event.created_at,
        when,
    )
}

/// The deadline worker's pre-breach warning of `deadline` on `ticket`, to
/// the staff of the unit holding it. The worker calls it once per deadline.
pub fn warn(
    conn: &mut AnyConnection,
    ticket: &TicketRow,
    deadline: Deadline,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let due_at = match deadline {
        Deadline::SignFor => ticket.accept_due_at,
        Deadline::Resolve => ticket.resolve_due_at,
    };
    let notice = notify::warning(deadline, UnitId(ticket.current_unit_id), due_at);
    write_notices(conn, vec![notice], None, ticket, None, now, When::Now)
}

/// The deadline worker's reminder that a follow-up visit of `ticket` is due
/// (at `due_at`), to the staff of the unit holding it.
pub fn remind_follow_up(
    conn: &mut AnyConnection,
    ticket: &TicketRow,
    due_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let notice = notify::follow_up_due(UnitId(ticket.current_unit_id), due_at);
    write_notices(conn, vec![notice], None, ticket, None, now, When::Now)
}

/// Writes `notices`, the staff of each unit looked up (never `actor`), each
/// user told once, and queues one webhook delivery per kind for the
/// endpoints of the ticket's community that take it.
fn write_notices(
    conn: &mut AnyConnection,
    notices: Vec<Notice>,
    actor: Option<i64>,
    ticket: &TicketRow,
    event_id: Option<i64>,
    at: NaiveDateTime,
    when: When,
) -> Result<(), ApiError> {
    if notices.is_empty() {
        return Ok(());
    }
    let ticket_id = ticket.id;
    let mut queue: Vec<webhooks::Outgoing> = Vec::new();
    for notice in &notices {
        if !queue.iter().any(|o| o.kind == notice.kind.as_str()) {
            queue.push(webhooks::Outgoing {
                community_id: ticket.community_id,
                kind: notice.kind.as_str(),
                ticket_id: Some(ticket_id),
                event_id,
                unit_id: notice.unit.map(|u| u.0),
                due_at: notice.due_at,
                at,
            });
        }
    }
    // One unit's staff alone (a filing, a warning): one statement, with
    // the webhook deliveries on PostgreSQL.
    if let [notice] = notices.as_slice()
        && let Recipient::StaffOf(unit) = notice.to
    {
        let row = new_row(0, notice, ticket_id, event_id, at);
        store::insert_for_staff_of(conn, unit.0, actor, &row, &queue, when)?;
        return Ok(());
    }
    for outgoing in &queue {
        webhooks::enqueue(conn, outgoing)?;
    }
    let units: Vec<i64> = notices
        .iter()
        .filter_map(|n| match n.to {
            Recipient::StaffOf(unit) => Some(unit.0),
            Recipient::User(_) => None,
        })
        .collect();
    let staff = if units.is_empty() {
        Vec::new()
    } else {
        store::staff_at(conn, &units)?
    };
    let mut rows: Vec<NewNotificationRow> = Vec::new();
    for notice in notices {
        let users: Vec<i64> = match notice.to {
            Recipient::User(user) => vec![user.0],
            Recipient::StaffOf(unit) => staff
                .iter()
                .filter(|(at, user)| *at == unit.0 && Some(*user) != actor)
                .map(|(_, user)| *user)
                .collect(),
        };
        for user_id in users {
            // Someone who is both a resident here and staff of the unit is told once.
            if rows.iter().any(|r| r.user_id == user_id) {
                continue;
            }
            rows.push(new_row(user_id, &notice, ticket_id, event_id, at));
        }
    }
    store::insert_notifications(conn, &rows)?;
    Ok(())
}

fn level_of(conn: &mut AnyConnection, unit_id: i64) -> Result<Level, ApiError> {
    Ok(queries::find_unit(conn, unit_id)?.ok_or(ApiError::Internal)?.level)
}

fn parent_of(conn: &mut AnyConnection, unit_id: i64) -> Result<Option<UnitId>, ApiError> {
    Ok(queries::find_unit(conn, unit_id)?
        .ok_or(ApiError::Internal)?
        .parent_id
        .map(UnitId))
}

fn new_row(
    user_id: i64,
    notice: &Notice,
    ticket_id: i64,
    event_id: Option<i64>,
    at: NaiveDateTime,
) -> NewNotificationRow {
    NewNotificationRow {
        user_id,
        kind: notice.kind.as_str().to_owned(),
        ticket_id: Some(ticket_id),
        event_id,
        unit_id: notice.unit.map(|u| u.0),
        due_at: notice.due_at,
        created_at: at,
        read_at: None,
    }
}
