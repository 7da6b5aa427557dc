//! How a ticket is shown to a caller: reporter, phones and parties as
//! policy lets them see it, and the actions they may take now.

use chrono::NaiveDateTime;

use super::*;
use crate::clock::utc;
use crate::db::AnyConnection;
use crate::db::PinnedCaches;
use crate::db::models::TicketRow;
use crate::db::tickets::{self as db};
use crate::domain::ids::{UnitId, UserId};
use crate::domain::people::mask_phone;
use crate::domain::sla::is_overdue;
use crate::domain::ticket::{Place, allowed_actions, possible_at};
use crate::error::ApiError;
use crate::policy::Caller;
use crate::policy::tickets::{self as policy, HiddenReporter};
use crate::service::visibility::TicketContext;

impl TicketContext {
    fn phone_for(&self, caller: &Caller, owner: Option<i64>, phone: Option<&str>) -> Option<String> {
        let phone = phone?;
        if owner == Some(caller.id.0) || caller.sees_full_phones() {
            Some(phone.to_owned())
        } else if policy::sees_contact_details(caller) {
            Some(mask_phone(phone))
        } else {
            None
        }
    }

    /// A dispute's parties as the caller may see them: phones hidden from
    /// residents but their own, masked below committee level.
    /// The reporter is left out where the caller may not see them.
    pub fn party_responses(
        &self,
        caller: &Caller,
        t: &TicketRow,
        hidden: Option<HiddenReporter>,
    ) -> Vec<PartyResponse> {
        self.parties
            .get(&t.id)
            .map(|ps| {
                ps.iter()
                    .filter(|p| !hidden.zip(p.user_id).is_some_and(|(h, user_id)| h.is(user_id)))
                    .map(|p| PartyResponse {
                        id: p.id,
                        role: p.role,
                        user_id: p.user_id.map(UserId),
                        name: p.name.clone(),
                        phone: self.phone_for(caller, p.user_id, p.phone.as_deref()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn response(&self, caller: &Caller, t: TicketRow, now: NaiveDateTime) -> Result<TicketResponse, ApiError> {
        let visited = self.visited_paths(&t);
        let party_ids = self.party_user_ids(&t);
        let facts = self.readable(caller, &t, &visited, &party_ids)?;
        let status = t.status;
        let current = self.current_unit(&t)?;
        let category = self
            .categories
            .get(&t.category_id)
            .ok_or_else(|| ApiError::internal("unknown category"))?;
        let hidden = policy::hidden_reporter(caller, &facts);
        let reporter = if hidden.is_none() {
            self.users.get(&t.reporter_id).map(|u| PersonRef {
                id: UserId(u.id),
                display_name: u.display_name.clone(),
                phone: self.phone_for(caller, Some(u.id), u.phone.as_deref()),
                room: (u.id == caller.id.0 || policy::sees_contact_details(caller))
                    .then(|| u.room.clone())
                    .flatten(),
            })
        } else {
            None
        };
        let parties = self.party_responses(caller, &t, hidden);
        let place = Place {
            level: facts.current_level,
            arrived_from_elsewhere: t.arrived_from_unit_id.is_some(),
        };
        let actions = allowed_actions(status)
            .into_iter()
            .filter(|a| possible_at(*a, place) && policy::may_act(caller, *a, &facts))
            .collect();
        Ok(TicketResponse {
            id: t.id,
            kind: t.kind,
            status,
            category: CategoryRef {
                code: category.code.clone(),
                name_zh: category.name_zh.clone(),
                name_en: category.name_en.clone(),
            },
            overdue: is_overdue(status, t.accept_due_at, t.resolve_due_at, now),
            priority: t.priority,
            reporter,
            filed_by_id: t.filed_by_id.map(UserId),
            current_unit: UnitRef {
                id: UnitId(current.id),
                name: current.name.clone(),
                level: current.level,
            },
            current_unit_id: UnitId(t.current_unit_id),
            accept_due_at: utc(t.accept_due_at),
            resolve_due_at: utc(t.resolve_due_at),
            accepted_at: t.accepted_at.map(utc),
            resolved_at: t.resolved_at.map(utc),
            closed_at: t.closed_at.map(utc),
            parties,
            actions,
            title: t.title,
            description: t.description,
            location: t.location,
            latitude: t.latitude,
            longitude: t.longitude,
            anonymous: t.anonymous,
            resolution: t.resolution,
            rating: t.rating,
            feedback: t.feedback,
            bounce_count: t.bounce_count,
            escalation_count: t.escalation_count,
            reopen_count: t.reopen_count,
            merged_into_id: t.merged_into_id,
            referred_to: t.referred_to,
            outcome: t
                .outcome
                .map(MediationOutcome::try_from)
                .transpose()
                .map_err(ApiError::internal)?,
            version: t.version,
            created_at: utc(t.created_at),
            updated_at: utc(t.updated_at),
        })
    }
}

/// Loads one ticket as the caller may see it (404 otherwise), all of it
/// read in the caller's transaction: for the answer to a write.
pub fn load_ticket(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    now: NaiveDateTime,
) -> Result<TicketResponse, ApiError> {
    let row = db::find_ticket(conn, id)?.ok_or(ApiError::NotFound)?;
    let context = TicketContext::load(conn, std::slice::from_ref(&row))?;
    context.response(caller, row, now)
}

/// One ticket to show as the caller may see it (404 otherwise), with its
/// community; its category, units and reporter come from what readers
/// share (`db::PinnedCaches`). `fetched` is its row when the caller has
/// read it already (`Db::pipelined`): `Some(None)` if there is none.
pub fn show_ticket(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    now: NaiveDateTime,
    caches: &PinnedCaches,
    fetched: Option<Option<TicketRow>>,
) -> Result<(TicketResponse, i64), ApiError> {
    let row = match fetched {
        Some(row) => row,
        None => db::find_ticket(conn, id)?,
    }
    .ok_or(ApiError::NotFound)?;
    let community = row.community_id;
    let context = TicketContext::load_to_show(conn, std::slice::from_ref(&row), caches)?;
    Ok((context.response(caller, row, now)?, community))
}

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}
