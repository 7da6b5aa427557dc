//! Filing a ticket (complaint or dispute): for whom, where it lands, its
//! first deadlines and timeline entry, a dispute's parties; and filing once
//! per `Idempotency-Key`, within a resident's hourly limit.

use chrono::{Duration, NaiveDateTime};

use crate::db::batch::When;
use crate::db::models::{IdempotencyRow, NewEventRow, NewPartyRow, NewTicketRow, TicketRow, UnitRow, UserRow};
use crate::db::tickets as db;
use crate::db::{AnyConnection, PinnedCaches, queries, write_audit};
use crate::domain::filing::{Filing, Respondent, may_name_resident, serving_chain};
use crate::domain::grid::community_of;
use crate::domain::ids::UserId;
use crate::domain::people::Role;
use crate::domain::text::{Invalid, Text};
use crate::domain::ticket::{Kind, Status, route};
use crate::error::ApiError;
use crate::limits::FILINGS_PER_HOUR;
use crate::policy::Caller;
use crate::policy::audit::{AuditObject, object_at};
use crate::policy::tickets::{self as policy, FilingFor, FilingRefused};
use crate::service::visibility::TicketContext;

/// How long a stored response answers a repeated `Idempotency-Key`.
pub const IDEMPOTENCY_HOURS: i64 = 24;

fn field_error(field: &str, code: &'static str, en: &'static str, zh: &'static str) -> ApiError {
    ApiError::field(field, Invalid::new(code, en, zh))
}

/// A party's account id, name and phone: from the resident account (another
/// resident than `reporter_id`, living in `community`; else 422 naming
/// `user_field`, the same answer whether or not the id exists elsewhere), or
/// as given for an outside party.
pub fn resolve_party(
    conn: &mut AnyConnection,
    party: &Respondent,
    user_field: &str,
    reporter_id: i64,
    community: i64,
) -> Result<(Option<i64>, String, Option<String>), ApiError> {
    match party {
        Respondent::Account(user_id) => {
            let account = queries::find_user(conn, user_id.0)?;
            let home_community = match account.as_ref().and_then(|a| a.building_id) {
                Some(building) => queries::find_unit(conn, building)?.and_then(|home| community_of(&home.path)),
                None => None,
            };
            let account = account
                .filter(|a| may_name_resident(a.role, UserId(a.id), UserId(reporter_id), home_community, community))
                .ok_or_else(|| {
                    field_error(
                        user_field,
                        "not_found",
                        "No other resident of the dispute's community has this id.",
                        "本社区没有此编号的其他居民。",
                    )
                })?;
            Ok((Some(account.id), account.display_name, account.phone))
        }
        Respondent::Outside { name, phone } => Ok((None, name.clone(), phone.clone())),
    }
}

/// The person a ticket is for, with their home's units.
struct Reporter {
    user: UserRow,
    building: UnitRow,
    household: Option<UnitRow>,
}

/// Who the ticket is for: the caller, or the resident staff file for.
fn reporter_for(conn: &mut AnyConnection, caller: &Caller, filing: &Filing) -> Result<Reporter, ApiError> {
    match policy::filing_for(caller, filing.on_behalf_of) {
        Ok(FilingFor::Themselves) => {
            let (user, building, household) =
                queries::find_user_at_home(conn, caller.id.0)?.ok_or(ApiError::NotFound)?;
            let building = building.ok_or_else(|| ApiError::internal("resident without a building"))?;
            Ok(Reporter {
                user,
                building,
                household,
            })
        }
        Err(FilingRefused::StaffOnly) => Err(ApiError::Refused {
            code: "staff_only",
            detail: Text::new("Only staff file for someone else.", "只有工作人员可以代为提交。"),
        }),
        Err(FilingRefused::ResidentRequired) => Err(field_error(
            "on_behalf_of",
            "required",
            "Staff file for a resident: name them in `on_behalf_of`.",
            "工作人员代为提交时须在 on_behalf_of 中指定居民。",
        )),
        Ok(FilingFor::Resident(resident_id)) => match queries::find_user_at_home(conn, resident_id.0)? {
            Some((user, Some(building), household))
                if user.role == Role::Resident && policy::may_file_for(caller, &building.path) =>
            {
                Ok(Reporter {
                    user,
                    building,
                    household,
                })
            }
            _ => Err(field_error(
                "on_behalf_of",
                "not_found",
                "No resident with this id lives in your area.",
                "您的辖区内没有此编号的居民。",
            )),
        },
    }
}

/// Files a ticket inside the caller's write transaction: it lands at the
/// lowest unit that serves the reporter at or above the category's entry
/// level, waiting to be signed for. Returns it with what showing it takes,
/// from the rows filing read and wrote (not read again).
///
/// With [`When::Deferred`] the rows after the ticket's own (its first
/// visit, search entry, event, notifications and webhook deliveries) wait
/// for the transaction's last statement on PostgreSQL (`db::batch::defer`):
/// for a caller that reads none of them before its commit.
pub fn file(
    conn: &mut AnyConnection,
    caller: &Caller,
    f: Filing,
    now: NaiveDateTime,
    caches: &PinnedCaches,
    when: When,
) -> Result<(TicketRow, TicketContext), ApiError> {
    // The catalogue and the deadline rules as this process holds them: a
    // change on another replica may be seen up to `category_cache::TTL` late.
    let category = caches
        .category_by_code(conn, &f.category)?
        .filter(|c| c.active)
        .ok_or_else(|| {
            field_error(
                "category",
                "not_found",
                "No active category has this code.",
                "没有此编码的可用类别。",
            )
        })?;
    if category.kind != f.kind {
        return Err(field_error(
            "category",
            "wrong_kind",
            "This category belongs to the other kind of ticket.",
            "该类别不属于此类工单。",
        ));
    }
    let Reporter {
        user: reporter,
        building,
        household,
    } = reporter_for(conn, caller, &f)?;
    let chain = serving_chain(&building.path, reporter.household_id)
        .ok_or_else(|| ApiError::internal(format!("building {} has a malformed path", building.id)))?;
    let mut respondents = Vec::new();
    for (i, r) in f.respondents.iter().enumerate() {
        respondents.push(resolve_party(
            conn,
            r,
            &format!("respondents[{i}].user_id"),
            reporter.id,
            chain.committee,
        )?);
    }
    let unit_id = route(f.kind, category.entry_level, &chain);
    let entry_unit = match household {
        _ if unit_id == building.id => building,
        Some(household) if unit_id == household.id => household,
        _ => queries::find_unit(conn, unit_id)?.ok_or(ApiError::Internal)?,
    };
    let (accept_due, resolve_due) = db::deadlines_under(
        &caches.deadline_rules(conn)?,
        &category,
        f.priority,
        entry_unit.level,
        now,
    );
    let status = Status::Assigned;
    let (ticket, first_event) = db::insert_ticket(
        conn,
        NewTicketRow {
            kind: f.kind,
            category_id: category.id,
            title: f.title,
            description: f.description,
            location: f.location,
            latitude: f.coordinates.map(|c| c.0),
            longitude: f.coordinates.map(|c| c.1),
            anonymous: f.anonymous,
            priority: f.priority,
            reporter_id: reporter.id,
            filed_by_id: (reporter.id != caller.id.0).then_some(caller.id.0),
            community_id: chain.committee,
            current_unit_id: unit_id,
            status,
            accept_due_at: accept_due,
            resolve_due_at: resolve_due,
            accepted_at: None,
            resolved_at: None,
            closed_at: None,
            resolution: None,
            resolved_unit_id: None,
            rating: None,
            version: 1,
            created_at: now,
            updated_at: now,
            arrived_at: Some(now),
        },
    )?;
    // The residents party to a dispute: the applicant and any respondent
    // with an account (what `db::parties_of` will read back).
    let party_users: Vec<i64> = match f.kind {
        Kind::Dispute => std::iter::once(reporter.id)
            .chain(respondents.iter().filter_map(|(user_id, _, _)| *user_id))
            .collect(),
        Kind::Complaint => Vec::new(),
    };
    let event = db::insert_filed(
        conn,
        &ticket,
        db::search::NewEntry::of(&ticket, &reporter, &[unit_id], &party_users),
        NewEventRow {
            ticket_id: ticket.id,
            kind: "filed".into(),
            actor_id: Some(caller.id.0),
            from_status: None,
            to_status: Some(status.as_str().into()),
            from_unit_id: None,
            to_unit_id: Some(unit_id),
            note: (reporter.id != caller.id.0).then(|| format!("filed by staff for {}", reporter.display_name)),
            internal: false,
            created_at: now,
        },
        first_event,
        when,
    )?;
    super::timeline::tell(conn, &ticket, &event, when)?;
    let parties = match f.kind {
        Kind::Dispute => {
            let mut parties = vec![NewPartyRow {
                ticket_id: ticket.id,
                role: "applicant".into(),
                user_id: Some(reporter.id),
                name: reporter.display_name.clone(),
                phone: reporter.phone.clone(),
                created_at: now,
            }];
            parties.extend(respondents.into_iter().map(|(user_id, name, phone)| NewPartyRow {
                ticket_id: ticket.id,
                role: "respondent".into(),
                user_id,
                name,
                phone,
                created_at: now,
            }));
            db::insert_parties_unindexed(conn, &parties)?;
            db::parties_of(conn, &[ticket.id])?
        }
        Kind::Complaint => Vec::new(),
    };
    let context = TicketContext::of_new(&ticket, category, entry_unit, reporter, parties);
    Ok((ticket, context))
}

/// A retry-safe filing request: the client's key and a hash of its body.
#[derive(Debug, Clone)]
pub struct Once {
    pub key: Option<String>,
    pub request_hash: String,
}

/// What filing once produced.
pub enum Filed {
    /// A new ticket, with the response body the handler rendered for it.
    New { ticket_id: i64, version: i64, body: String },
    /// The response stored for the same key within 24 hours.
    Replayed(IdempotencyRow),
}

/// The response stored for `key` of `user_id`, if it is fresh.
pub fn stored_filing(
    conn: &mut AnyConnection,
    user_id: i64,
    key: &str,
    now: NaiveDateTime,
) -> Result<Option<IdempotencyRow>, ApiError> {
    Ok(db::find_idempotent(
        conn,
        user_id,
        key,
        now - Duration::hours(IDEMPOTENCY_HOURS),
    )?)
}

fn key_reused() -> ApiError {
    field_error(
        "Idempotency-Key",
        "reused",
        "This key was used for a different request in the last 24 hours.",
        "此幂等键在 24 小时内已用于另一个请求。",
    )
}

/// The stored response of an earlier request with the same key, or 422
/// when that request was a different one.
pub fn replayable(stored: IdempotencyRow, request_hash: &str) -> Result<IdempotencyRow, ApiError> {
    if stored.request_hash == request_hash {
        Ok(stored)
    } else {
        Err(key_reused())
    }
}

/// Files a ticket at most once per key: a key seen within 24 hours answers
/// its stored response; a resident over the hourly limit gets 429. `render`
/// makes the response body inside this transaction, so what a retry replays
/// is exactly what the first request answered. Two requests racing with one
/// key: the loser's transaction fails with 409 `idempotency_race`; read the
/// winner's with [`stored_filing`].
pub fn file_once(
    conn: &mut AnyConnection,
    caller: &Caller,
    filing: Filing,
    once: &Once,
    now: NaiveDateTime,
    caches: &PinnedCaches,
    render: impl FnOnce(&mut AnyConnection, TicketRow, TicketContext) -> Result<String, ApiError>,
) -> Result<Filed, ApiError> {
    if let Some(key) = &once.key
        && let Some(stored) = stored_filing(conn, caller.id.0, key, now)?
    {
        let stored = replayable(stored, &once.request_hash)?;
        if let Some(ticket) = stored.location.as_deref().and_then(object_at) {
            write_audit::created(ticket);
        }
        return Ok(Filed::Replayed(stored));
    }
    if policy::filings_are_limited(caller) {
        // Count and file under the resident's row lock, so a burst of
        // filings (on any replica) is counted one after the other: exactly
        // the allowance is filed. SQLite's write transaction already holds
        // the only write lock.
        queries::lock_user(conn, caller.id.0)?.ok_or(ApiError::NotFound)?;
        let (filed, first) = db::own_filings_since(conn, caller.id.0, now - Duration::hours(1))?;
        if filed >= FILINGS_PER_HOUR {
            let wait = first.map_or(3600, |t| (t + Duration::hours(1) - now).num_seconds().max(1));
            return Err(ApiError::TooManyRequests {
                code: "too_many_filings",
                detail: Text::new(
                    "You have filed 10 tickets in the last hour; wait before filing another.",
                    "您在一小时内已提交 10 件诉求，请稍后再提交。",
                ),
                retry_after: u64::try_from(wait).unwrap_or(1),
            });
        }
    }
    // What follows reads none of the filing's rows: rendering reads the
    // rows filing returned, and the key and the audit row are other tables.
    let (ticket, context) = file(conn, caller, filing, now, caches, When::Deferred)?;
    let (ticket_id, version) = (ticket.id, ticket.version);
    // Staff filing for a resident: their audit row goes to the ticket's community.
    write_audit::created_in(AuditObject::Ticket(ticket_id), ticket.community_id);
    let body = render(conn, ticket, context)?;
    if let Some(key) = &once.key {
        db::store_idempotent(
            conn,
            &IdempotencyRow {
                user_id: caller.id.0,
                key: key.clone(),
                request_hash: once.request_hash.clone(),
                status_code: 201,
                response_body: body.clone(),
                location: Some(ticket_location(ticket_id)),
                created_at: now,
            },
            now - Duration::hours(IDEMPOTENCY_HOURS),
        )?;
    }
    Ok(Filed::New {
        ticket_id,
        version,
        body,
    })
}

/// Where a ticket is read (the `Location` of a filing).
pub fn ticket_location(ticket_id: i64) -> String {
    format!("/api/v1/tickets/{ticket_id}")
}
