//! The ticket list as one CSV file (工单台账): what a community secretary
//! sends up to the street office. Written page by page as the client reads
//! it, never built whole in memory.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use chrono::NaiveDateTime;
use chrono_tz::Tz;
use futures_util::Stream;

use super::reading::{TicketFilters, search, selection};
use super::*;
use crate::api::QueryParams;
use crate::api::csv::{self, Lines, Record};
use crate::api::problems::{Unauthorized, ValidationFailed};
use crate::auth::Auth;
use crate::db::Db;
use crate::db::tickets::{self as db, TicketFilter, TicketScope};
use crate::error::ApiError;
use crate::policy::Caller;
use crate::service::visibility::TicketContext;
use crate::state::AppState;

/// Tickets read per database round trip: each page is its own read, and
/// only one page at a time is held in memory.
pub const PAGE_ROWS: i64 = 500;

/// The header row: stable English names, one per column.
pub const COLUMNS: [&str; 40] = [
    "id",
    "kind",
    "kind_zh",
    "status",
    "status_zh",
    "category_code",
    "category_name_zh",
    "title",
    "description",
    "location",
    "latitude",
    "longitude",
    "anonymous",
    "priority",
    "reporter_id",
    "reporter_name",
    "reporter_phone",
    "reporter_room",
    "applicants",
    "respondents",
    "current_unit_id",
    "current_unit_name",
    "current_unit_level",
    "created_at",
    "accept_due_at",
    "resolve_due_at",
    "overdue",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "resolution",
    "rating",
    "feedback",
    "escalation_count",
    "bounce_count",
    "reopen_count",
    "merged_into_id",
    "referred_to",
    "outcome",
    "updated_at",
];

/// A ticket's line: what its JSON shows the same caller, never more (no
/// actions, no version); times local in `tz`. Every text a person typed
/// goes through `Record::text`.
fn record(t: &TicketResponse, tz: Tz) -> Record {
    let names = |role: PartyRole| {
        t.parties
            .iter()
            .filter(|p| p.role == role)
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join("、")
    };
    let reporter = t.reporter.as_ref();
    let mut r = Record::default();
    r.plain(t.id)
        .plain(t.kind.as_str())
        .plain(t.kind.name_zh())
        .plain(t.status.as_str())
        .plain(t.status.name_zh())
        .text(&t.category.code)
        .text(&t.category.name_zh)
        .text(&t.title)
        .text(&t.description)
        .optional_text(t.location.as_deref())
        .optional(t.latitude)
        .optional(t.longitude)
        .plain(t.anonymous)
        .plain(t.priority.as_str())
        .optional(reporter.map(|p| p.id))
        .optional_text(reporter.map(|p| p.display_name.as_str()))
        .optional_text(reporter.and_then(|p| p.phone.as_deref()))
        .optional_text(reporter.and_then(|p| p.room.as_deref()))
        .text(&names(PartyRole::Applicant))
        .text(&names(PartyRole::Respondent))
        .plain(t.current_unit.id)
        .text(&t.current_unit.name)
        .plain(t.current_unit.level.as_str())
        .time(&t.created_at, tz)
        .time(&t.accept_due_at, tz)
        .time(&t.resolve_due_at, tz)
        .plain(t.overdue)
        .optional_time(t.accepted_at.as_ref(), tz)
        .optional_time(t.resolved_at.as_ref(), tz)
        .optional_time(t.closed_at.as_ref(), tz)
        .optional_text(t.resolution.as_deref())
        .optional(t.rating)
        .optional_text(t.feedback.as_deref())
        .plain(t.escalation_count)
        .plain(t.bounce_count)
        .plain(t.reopen_count)
        .optional(t.merged_into_id)
        .optional_text(t.referred_to.as_deref())
        .optional(t.outcome.map(MediationOutcome::as_str))
        .time(&t.updated_at, tz);
    r
}

/// What every page of one export reads with: the caller, their scope and
/// filters, and one `now` for `overdue` throughout.
struct Export {
    caller: Caller,
    scope: TicketScope,
    filter: TicketFilter,
    now: NaiveDateTime,
    tz: Tz,
}

/// One page of an export: its lines, how many, and the id the next page
/// starts below (none after the last).
struct Page {
    lines: Lines,
    rows: usize,
    next: Option<i64>,
}

impl Export {
    /// The page of tickets below `before_id` (from the newest without),
    /// written after `lines`.
    fn page(&self, conn: &mut AnyConnection, before_id: Option<i64>, mut lines: Lines) -> Result<Page, ApiError> {
        let filter = TicketFilter {
            before_id,
            limit: PAGE_ROWS,
            ..self.filter.clone()
        };
        let rows = db::list_tickets(conn, &self.scope, &filter)?;
        let count = rows.len();
        let full = i64::try_from(count).is_ok_and(|n| n >= PAGE_ROWS);
        let next = rows.last().map(|t| t.id).filter(|_| full);
        let context = TicketContext::load(conn, &rows)?;
        for t in rows {
            lines.push(&record(&context.response(&self.caller, t, self.now)?, self.tz))?;
        }
        Ok(Page {
            lines,
            rows: count,
            next,
        })
    }
}

/// Export tickets as CSV
///
/// Every ticket `GET /api/v1/tickets` would list with the same filters, in
/// one CSV file: the case list (工单台账) a community secretary sends to the
/// street office. The same tickets as the list, newest first (by id):
/// residents their own and disputes they are party to; staff those now at,
/// or once at, a unit in their subtrees; admins their communities'. No
/// `limit` or `cursor`: the whole selection, however long; narrow it with
/// the filters. No cap.
///
/// The file is UTF-8 with a byte-order mark (so Excel on Chinese Windows
/// reads it), with CRLF line ends (RFC 4180): a header row of stable English
/// column names, then one line per ticket. Times are local times in the
/// deployment's time zone with their offset (`2026-11-30T16:00:00+08:00`);
/// `kind_zh`, `status_zh` and `category_name_zh` give the Chinese names;
/// `applicants` and `respondents` are dispute parties' names, separated by
/// `、`. A line shows what the ticket's JSON shows the caller, never more:
/// an anonymous reporter is hidden from household and building staff
/// (`reporter_*` cells empty), phones are masked below committee level,
/// internal notes are never in it. A cell of text someone typed that
/// begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'` in
/// front, so a spreadsheet shows it instead of running it.
///
/// Written as it is read, 500 tickets per database read, so the file is not
/// one snapshot: a ticket changed during the export may show its state
/// before or after the change, and one filed meanwhile is not in it; no
/// ticket is repeated or skipped (pages follow ids). If the server fails
/// part-way, it closes the connection without ending the (chunked) body, so
/// the download fails rather than ending as a shorter well-formed file;
/// export again.
#[utoipa::path(
    tag = "tickets",
    params(TicketFilters),
    responses(
        (status = 200, description = "The tickets, one CSV line each.",
            content((String = "text/csv", example = "id,kind,kind_zh,status,status_zh,category_code,category_name_zh,title,description,location,latitude,longitude,anonymous,priority,reporter_id,reporter_name,reporter_phone,reporter_room,applicants,respondents,current_unit_id,current_unit_name,current_unit_level,created_at,accept_due_at,resolve_due_at,overdue,accepted_at,resolved_at,closed_at,resolution,rating,feedback,escalation_count,bounce_count,reopen_count,merged_into_id,referred_to,outcome,updated_at\r\n1024,complaint,投诉,accepted,办理中,noise,噪音扰民,楼上装修噪音,3号楼502每天早上7点开始装修，影响休息。,3号楼,26.0745,119.2965,false,normal,12,王芳,138****1234,3-402,,,30,党员中心户·王家,household,2026-11-28T09:00:00+08:00,2026-11-28T17:00:00+08:00,2026-11-30T09:00:00+08:00,false,2026-11-28T10:15:00+08:00,,,,,,0,0,0,,,,2026-11-28T10:15:00+08:00\r\n")),
            headers(("Content-Disposition" = String,
                description = "`attachment; filename=\"tickets-20261130.csv\"`: the day of the export in the deployment's time zone."))),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"q": ["too_long"], "category": ["not_found"], "unit_id": ["not_found"]})))
)]
#[get("/tickets/export")]
async fn export_tickets(
    state: web::Data<AppState>,
    auth: Auth,
    filters: QueryParams<TicketFilters>,
) -> Result<HttpResponse, ApiError> {
    let filters = filters.0;
    let q = search(&filters)?;
    let now = state.clock.now();
    let tz = state.time_zone;
    let caller = auth.caller;
    let caches = state.caches.pin();
    // The filters are read and the first page written before the answer
    // starts: a bad filter or an unreachable database is still a problem.
    let (export, first) = state
        .db
        .run_long(move |conn| {
            let (scope, filter) = selection(conn, &caller, filters, q, now.naive_utc(), tz, &caches)?;
            let export = Export {
                caller,
                scope,
                filter,
                now: now.naive_utc(),
                tz,
            };
            let first = export.page(conn, None, Lines::file(&COLUMNS)?)?;
            Ok((export, first))
        })
        .await?;
    let filename = format!("tickets-{}.csv", now.with_timezone(&tz).format("%Y%m%d"));
    Ok(HttpResponse::Ok()
        .content_type(csv::CONTENT_TYPE)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(body(state.db.clone(), Arc::new(export), first)?))
}

/// How an export ended, said in the log once it is over (when the body is
/// dropped: finished, failed, or left by a client that went away).
struct Outcome {
    span: tracing::Span,
    rows: usize,
    end: End,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Running,
    Complete,
    Failed,
}

impl Drop for Outcome {
    fn drop(&mut self) {
        let _in = self.span.enter();
        let rows = self.rows;
        match self.end {
            End::Complete => tracing::info!(rows, "ticket export complete"),
            End::Failed => tracing::error!(rows, "ticket export cut short by an error; the connection is closed"),
            End::Running => tracing::info!(
                rows,
                "ticket export stopped before its end: the client went away (or the server is stopping)"
            ),
        }
    }
}

/// What the body does next.
enum Step {
    Send(Bytes, Option<i64>),
    Fetch(i64),
    Done,
}

/// The body: the first page, then one page per database read, each read
/// only when actix asks for more (so a slow client holds one page, and a
/// client that goes away stops the reads). An error ends the body with
/// that error: actix closes the connection without the chunked body's
/// end, so the client knows the file is cut short.
fn body(db: Db, export: Arc<Export>, first: Page) -> Result<impl Stream<Item = Result<Bytes, ApiError>>, ApiError> {
    let outcome = Outcome {
        span: tracing::Span::current(),
        rows: first.rows,
        end: if first.next.is_some() {
            End::Running
        } else {
            End::Complete
        },
    };
    let start = Step::Send(Bytes::from(first.lines.into_bytes()?), first.next);
    Ok(futures_util::stream::unfold(
        (start, outcome),
        move |(step, mut outcome)| {
            let (db, export) = (db.clone(), export.clone());
            async move {
                match step {
                    Step::Done => None,
                    Step::Send(bytes, next) => Some((Ok(bytes), (next.map_or(Step::Done, Step::Fetch), outcome))),
                    Step::Fetch(before_id) => {
                        // The request's span, so what the read logs names the request.
                        let span = outcome.span.clone();
                        let page = db
                            .run_long(move |conn| {
                                let _in = span.enter();
                                let page = export.page(conn, Some(before_id), Lines::more())?;
                                Ok((page.lines.into_bytes()?, page.rows, page.next))
                            })
                            .await;
                        match page {
                            Ok((bytes, rows, next)) => {
                                outcome.rows += rows;
                                if next.is_none() {
                                    outcome.end = End::Complete;
                                }
                                Some((Ok(Bytes::from(bytes)), (next.map_or(Step::Done, Step::Fetch), outcome)))
                            }
                            Err(error) => {
                                outcome.end = End::Failed;
                                Some((Err(error), (Step::Done, outcome)))
                            }
                        }
                    }
                }
            }
        },
    ))
}
