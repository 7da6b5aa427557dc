//! People's mediation (人民调解) of disputes: adding a party, recording a
//! session, the agreement (调解协议) and its follow-up visit (履行回访), each
//! inside the caller's write transaction; and what the reads load. Every
//! record also goes on the dispute's timeline and bumps its version.

use chrono::NaiveDateTime;

use crate::db::mediation::{self as db, FollowUpFilter, FollowUpState};
use crate::db::models::{
    AgreementRow, FollowUpRow, MediationRow, NewEventRow, NewMediationRow, NewPartyRow, TicketRow,
};
use crate::db::{AnyConnection, queries, tickets};
use crate::domain::filing::Respondent;
use crate::domain::mediation::{
    self as rules, FollowUpResult, MEDIATOR_NOT_FOUND, NewSession, PartyRole, Refusal, TimelineEntry,
};
use crate::domain::ticket::Kind;
use crate::error::ApiError;
use crate::policy::Caller;
use crate::policy::mediation::may_mediate;
use crate::policy::tickets::can_work;
use crate::service::callers::caller_from;
use crate::service::filing::resolve_party;
use crate::service::visibility::TicketContext;

/// A dispute the caller may read, what it takes to show it, and whether the
/// caller works it (its current unit is in their subtree).
pub struct Dispute {
    pub ticket: TicketRow,
    pub context: TicketContext,
    pub works: bool,
}

fn load_dispute(conn: &mut AnyConnection, caller: &Caller, id: i64, lock: bool) -> Result<Dispute, ApiError> {
    let row = if lock {
        tickets::lock_ticket(conn, id)?
    } else {
        tickets::find_ticket(conn, id)?
    };
    let ticket = row.filter(|t| t.kind == Kind::Dispute).ok_or(ApiError::NotFound)?;
    let context = TicketContext::load(conn, std::slice::from_ref(&ticket))?;
    let visited = context.visited_paths(&ticket);
    let parties = context.party_user_ids(&ticket);
    let works = can_work(caller, &context.readable(caller, &ticket, &visited, &parties)?);
    Ok(Dispute { ticket, context, works })
}

/// A dispute the caller may read (404 for anything else, complaints too).
pub fn readable_dispute(conn: &mut AnyConnection, caller: &Caller, id: i64) -> Result<Dispute, ApiError> {
    load_dispute(conn, caller, id, false)
}

/// A dispute the caller works (403 for one they only read), still open,
/// locked for the change.
fn workable_open_dispute(conn: &mut AnyConnection, caller: &Caller, id: i64) -> Result<Dispute, ApiError> {
    let dispute = load_dispute(conn, caller, id, true)?;
    if !dispute.works {
        return Err(ApiError::Forbidden);
    }
    rules::may_record(dispute.ticket.status).map_err(refused)?;
    Ok(dispute)
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::DisputeNotOpen => ApiError::conflict(
            "ticket_not_open",
            "The dispute is no longer open (assigned or accepted).",
            "该纠纷已不在处理中。",
        ),
        Refusal::AlreadyParty => ApiError::conflict(
            "already_party",
            "This resident is a party to the dispute already.",
            "该居民已是此纠纷的当事人。",
        ),
        Refusal::TooManyParties => ApiError::conflict(
            "too_many_parties",
            "A dispute has at most 30 parties.",
            "一起纠纷最多 30 位当事人。",
        ),
        Refusal::FollowUpRecorded => ApiError::conflict(
            "follow_up_recorded",
            "This follow-up has been recorded already.",
            "该回访已登记。",
        ),
        Refusal::DisputeNotSettled => ApiError::conflict(
            "dispute_not_settled",
            "Follow up once the dispute is resolved as settled.",
            "纠纷调解办结后才能登记回访。",
        ),
    }
}

/// Records `entry` on the dispute's timeline and bumps the dispute's
/// version, so clients holding the old one see it changed.
fn record_on_timeline(
    conn: &mut AnyConnection,
    ticket: &TicketRow,
    caller: &Caller,
    entry: TimelineEntry,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    super::timeline::record(
        conn,
        Some(ticket),
        &NewEventRow::note(ticket.id, entry.kind, caller.id.0, entry.note, now),
    )?;
    tickets::update_ticket(
        conn,
        ticket.id,
        &tickets::TicketChanges {
            version: Some(ticket.version + 1),
            updated_at: Some(now),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// Adds a party to dispute `id`: a resident account (not the applicant who
/// filed it, once) or an outside party by name. By staff working the open
/// dispute; at most [`rules::MAX_PARTIES`].
pub fn add_party(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    role: PartyRole,
    party: &Respondent,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let d = workable_open_dispute(conn, caller, id)?;
    let (user_id, name, phone) = resolve_party(conn, party, "user_id", d.ticket.reporter_id, d.ticket.community_id)?;
    let existing: Vec<Option<i64>> = tickets::parties_of(conn, &[d.ticket.id])?
        .into_iter()
        .map(|p| p.user_id)
        .collect();
    rules::may_add_party(&existing, user_id).map_err(refused)?;
    let entry = rules::party_added(role, &name);
    tickets::insert_parties(
        conn,
        &[NewPartyRow {
            ticket_id: d.ticket.id,
            role: role.as_str().into(),
            user_id,
            name,
            phone,
            created_at: now,
        }],
    )?;
    record_on_timeline(conn, &d.ticket, caller, entry, now)
}

/// Records a mediation session of dispute `id`, held by a staff member or
/// admin of its community, no earlier than it was filed. By staff working
/// the open dispute.
pub fn record_session(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    session: NewSession,
    now: NaiveDateTime,
) -> Result<MediationRow, ApiError> {
    let d = workable_open_dispute(conn, caller, id)?;
    rules::check_held_after_filing(session.held_at, d.ticket.created_at)
        .map_err(|invalid| ApiError::field("held_at", invalid))?;
    let mediator_ok = match queries::find_user(conn, session.mediator_id)?.filter(|u| u.active) {
        Some(user) => {
            let posts = queries::posts_with_units(conn, user.id)?;
            may_mediate(&caller_from(&user, posts), d.ticket.community_id)
        }
        None => false,
    };
    if !mediator_ok {
        return Err(ApiError::field("mediator_id", MEDIATOR_NOT_FOUND));
    }
    let entry = rules::session_held(session.held_at, session.outcome);
    let row = db::insert_mediation(
        conn,
        &NewMediationRow {
            ticket_id: id,
            held_at: session.held_at,
            mediator_id: session.mediator_id,
            summary: session.summary,
            outcome: session.outcome.map(|o| o.as_str().to_owned()),
            recorded_by: caller.id.0,
            created_at: now,
        },
    )?;
    record_on_timeline(conn, &d.ticket, caller, entry, now)?;
    Ok(row)
}

/// The agreement as saved, with its dispute.
pub struct SavedAgreement {
    pub agreement: AgreementRow,
    pub ticket: TicketRow,
    /// First recorded (not revised).
    pub created: bool,
}

/// Records or revises the agreement of dispute `id` and (re)schedules its
/// follow-up; a revision keeps the earlier terms on the timeline. By staff
/// working the open dispute.
pub fn save_agreement(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    terms: String,
    deadline: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<SavedAgreement, ApiError> {
    let d = workable_open_dispute(conn, caller, id)?;
    let previous = db::find_agreement(conn, id)?;
    let entry = rules::agreement_saved(
        &terms,
        deadline,
        previous
            .as_ref()
            .map(|old| (old.terms.as_str(), old.performance_deadline)),
    );
    let agreement = db::save_agreement(
        conn,
        &AgreementRow {
            ticket_id: id,
            terms,
            performance_deadline: deadline,
            recorded_by: caller.id.0,
            created_at: now,
            updated_at: now,
        },
    )?;
    db::schedule_follow_up(conn, id, rules::follow_up_due_at(now), now)?;
    record_on_timeline(conn, &d.ticket, caller, entry, now)?;
    Ok(SavedAgreement {
        agreement,
        ticket: d.ticket,
        created: previous.is_none(),
    })
}

/// Records follow-up `id`: whether the parties kept the agreement. Once,
/// by staff working the dispute, after it was resolved or closed. Returns
/// the follow-up and its dispute.
pub fn record_follow_up(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    result: FollowUpResult,
    note: Option<String>,
    now: NaiveDateTime,
) -> Result<(FollowUpRow, TicketRow), ApiError> {
    let follow_up = db::find_follow_up(conn, id)?.ok_or(ApiError::NotFound)?;
    let d = load_dispute(conn, caller, follow_up.ticket_id, true)?;
    if !d.works {
        return Err(ApiError::Forbidden);
    }
    rules::may_record_follow_up(follow_up.recorded_at.is_some(), d.ticket.status).map_err(refused)?;
    let entry = rules::follow_up_recorded(result, note.as_deref());
    let row = db::record_follow_up(conn, id, caller.id.0, result.as_str(), note, now)?;
    record_on_timeline(conn, &d.ticket, caller, entry, now)?;
    Ok((row, d.ticket))
}

/// Dispute `id`'s sessions, oldest first, for everyone who may read it.
pub fn sessions(conn: &mut AnyConnection, caller: &Caller, id: i64) -> Result<Vec<MediationRow>, ApiError> {
    readable_dispute(conn, caller, id)?;
    Ok(db::mediations_of(conn, id)?)
}

/// Dispute `id`'s agreement and the dispute, for everyone who may read it;
/// 404 also before one is recorded.
pub fn agreement(conn: &mut AnyConnection, caller: &Caller, id: i64) -> Result<(AgreementRow, TicketRow), ApiError> {
    let d = readable_dispute(conn, caller, id)?;
    let row = db::find_agreement(conn, id)?.ok_or(ApiError::NotFound)?;
    Ok((row, d.ticket))
}

/// Which follow-ups to list: where, in which state, which page.
pub struct FollowUpListing {
    /// Disputes held in this unit's subtree; `None` for all the caller's posts.
    pub unit_id: Option<i64>,
    pub state: FollowUpState,
    pub now: NaiveDateTime,
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// Follow-ups of disputes held in the caller's subtrees (404 for a unit
/// outside them), oldest first, with their disputes. Whether the caller may
/// list follow-ups at all is `policy::mediation::may_list_follow_ups`,
/// asked before the database is.
pub fn follow_ups(
    conn: &mut AnyConnection,
    caller: &Caller,
    listing: FollowUpListing,
) -> Result<Vec<(FollowUpRow, TicketRow)>, ApiError> {
    let roots: Option<Vec<String>> = match listing.unit_id {
        Some(unit_id) => {
            let unit = queries::find_unit(conn, unit_id)?
                .filter(|u| caller.works_in(&u.path))
                .ok_or(ApiError::NotFound)?;
            Some(vec![unit.path])
        }
        None if caller.is_superadmin() => None,
        None => Some(caller.scope_paths()),
    };
    let unit_ids = match roots {
        None => None,
        Some(roots) => {
            let mut ids = Vec::new();
            for root in roots {
                ids.extend(queries::subtree(conn, &root, false)?.into_iter().map(|u| u.id));
            }
            Some(ids)
        }
    };
    Ok(db::list_follow_ups(
        conn,
        &FollowUpFilter {
            unit_ids,
            state: listing.state,
            now: listing.now,
            after_id: listing.after_id,
            limit: listing.limit,
        },
    )?)
}
