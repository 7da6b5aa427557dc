//! Lists of tickets and one ticket.

use actix_web::{HttpResponse, get, http::header, web};
use chrono::NaiveDateTime;
use chrono_tz::Tz;
use serde::Deserialize;
use utoipa::IntoParams;

use super::*;
use crate::api::local_time::TimeBound;
use crate::api::problems::{NotFound, Unauthorized, ValidationFailed};
use crate::api::{PageRequest, QueryParams, SizedJson, search_text};
use crate::auth::Auth;
use crate::db::audit_queue::ObjectCommunity;
use crate::db::models::TicketRow;
use crate::db::tickets::{self as db, ReporterFilter, TextFilter, TicketFilter, TicketScope};
use crate::db::{AnyConnection, PinnedCaches, queries};
use crate::domain::search::Search;
use crate::domain::ticket::{Kind, Status};
use crate::error::{ApiError, Invalid, Validator};
use crate::policy::Caller;
use crate::policy::tickets as policy;
use crate::service::visibility::TicketContext;
use crate::state::AppState;

/// What the ticket lists and the export select.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketFilters {
    /// One status or several, comma-separated: `status=assigned,accepted`
    /// (tickets in any of them; `status=assigned&status=accepted`, as many
    /// generated clients send a list, means the same; an empty `status=` is
    /// no filter). 一个或多个状态，以逗号分隔。
    #[serde(default, deserialize_with = "crate::api::statuses")]
    #[param(style = Form, explode = false, value_type = Option<Vec<Status>>)]
    pub status: Option<Vec<Status>>,
    /// `GET /api/v1/tickets` and its export only.
    pub kind: Option<Kind>,
    /// A category `code`.
    #[param(pattern = r"^[^\u0000]*$")]
    pub category: Option<String>,
    /// Tickets now at this unit or anywhere below it.
    pub unit_id: Option<i64>,
    /// Tickets this account filed (or staff filed for them). An anonymous
    /// ticket matches only for callers who see its reporter (the reporter,
    /// branch and committee staff on its path, admins): for anyone else it
    /// matches no `reporter_id`, so the answer is the same whoever filed it.
    pub reporter_id: Option<i64>,
    /// `true`: only tickets past a deadline; `false`: only tickets within them.
    pub overdue: Option<bool>,
    /// Filed at or after this time; a date alone (`2026-11-01`) means from
    /// the start of that day in the deployment's time zone.
    #[serde(default, deserialize_with = "crate::api::local_time::optional_bound")]
    pub created_from: Option<TimeBound>,
    /// Filed before this time; a date alone (`2026-11-30`) includes that
    /// whole day in the deployment's time zone.
    #[serde(default, deserialize_with = "crate::api::local_time::optional_bound")]
    pub created_to: Option<TimeBound>,
    /// Changed at or after this time: for mobile sync (send the time of
    /// your last sync; a date alone means from the start of that day).
    #[serde(default, deserialize_with = "crate::api::local_time::optional_bound")]
    pub updated_since: Option<TimeBound>,
    /// Text search, up to 100 characters, answered from an index. Each
    /// part (parts are separated by spaces) must occur, in any order, in the
    /// title, description or location, or in the reporter's name or room,
    /// the last two only on tickets whose reporter you may see (for
    /// household and building staff an anonymous reporter's name or room
    /// finds nothing). Chinese matches as typed: one character (`漏`), a
    /// word (`漏水`, `噪音`) or a phrase (`楼上漏水`). Letters and digits
    /// match whole words from their start, in any case; the last word may
    /// be unfinished (`wat` finds `Water`). A room number matches whole
    /// (`1-602` finds 1-602, not 11-602) or by its numbers (`602`). A text
    /// without a letter, digit or character (`%`, `_`, `，`) matches
    /// nothing. 文本搜索，最多 100 个字符，由索引作答。以空格分隔的每一部分都须出现（顺序不限）在标题、描述或地点中，
    /// 或在报告人的姓名、房号中；后两者仅限可以看到报告人的工单（党员中心户和楼栋人员搜索匿名报告人的姓名或房号，
    /// 不会找到其匿名工单）。中文按输入匹配：单字（漏）、词（漏水、噪音）或短语（楼上漏水）。字母和数字从词首匹配，
    /// 不区分大小写，最后一个词可以未写完（wat 可找到 Water）。房号整体匹配（1-602 找到 1-602，不含 11-602），
    /// 也可只搜号码（602）。不含字母、数字或汉字的文本（如 %、_、，）不匹配任何工单。
    #[param(pattern = r"^[^\u0000]*$")]
    pub q: Option<String>,
}

/// A page of a ticket list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketPage {
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[^\u0000]*$")]
    pub cursor: Option<String>,
}

/// The search text of `filters`, checked (before any database work).
pub(super) fn search(filters: &TicketFilters) -> Result<Option<String>, ApiError> {
    let mut v = Validator::default();
    let q = search_text("q", filters.q.as_deref(), &mut v);
    v.finish()?;
    Ok(q)
}

/// The tickets `filters` select for `caller`, read against the database
/// (a category's code, a unit's subtree, whether a resident is party to
/// others' disputes): the scope and the filter for `db::list_tickets`,
/// without a page (`before_id` none, `limit` 0).
pub(super) fn selection(
    conn: &mut AnyConnection,
    caller: &Caller,
    filters: TicketFilters,
    q: Option<String>,
    now: NaiveDateTime,
    tz: Tz,
    caches: &PinnedCaches,
) -> Result<(TicketScope, TicketFilter), ApiError> {
    let mut scope = policy::list_scope(caller);
    if let TicketScope::Resident { user_id, party } = &mut scope {
        *party = db::is_other_party(conn, *user_id)?;
    }
    let category_id = match &filters.category {
        Some(code) => Some(
            caches
                .category_by_code(conn, code)?
                .ok_or_else(|| {
                    not_found_field(
                        "category",
                        "not_found",
                        "No category has this code.",
                        "没有此编码的类别。",
                    )
                })?
                .id,
        ),
        None => None,
    };
    let unit_path = match filters.unit_id {
        Some(id) => Some(
            queries::find_unit(conn, id)?
                .ok_or_else(|| not_found_field("unit_id", "not_found", "No unit has this id.", "没有此编号的单元。"))?
                .path,
        ),
        None => None,
    };
    let filter = TicketFilter {
        id: None,
        kind: filters.kind.map(|k| k.as_str().to_owned()),
        status: filters
            .status
            .map(|statuses| statuses.iter().map(|s| s.as_str().to_owned()).collect()),
        category_id,
        unit_path,
        reporter: filters.reporter_id.map(|reporter_id| ReporterFilter {
            reporter_id,
            caller_id: caller.id.0,
            sight: policy::reporter_sight(caller),
        }),
        overdue: filters.overdue.map(|o| (o, now)),
        created_from: filters.created_from.map(|t| t.start(tz).naive_utc()),
        created_to: filters.created_to.map(|t| t.end(tz).naive_utc()),
        updated_since: filters.updated_since.map(|t| t.start(tz).naive_utc()),
        q: q.map(|q| TextFilter {
            search: Search::parse(&q),
            caller_id: caller.id.0,
            sight: policy::reporter_sight(caller),
        }),
        before_id: None,
        limit: 0,
    };
    Ok((scope, filter))
}

async fn list(
    state: &AppState,
    caller: Caller,
    kind: Option<Kind>,
    filters: TicketFilters,
    page: TicketPage,
) -> Result<SizedJson<TicketList>, ApiError> {
    let q = search(&filters)?;
    let page = PageRequest::parse(Some(page.limit.unwrap_or(20)), page.cursor.as_deref())?;
    let now = state.clock.now_naive();
    let tz = state.time_zone;
    let caches = state.caches.pin();
    // `/complaints` and `/disputes` list one kind whatever `kind` says.
    let filters = TicketFilters {
        kind: kind.or(filters.kind),
        ..filters
    };
    let chooser = caller.clone();
    let select = move |conn: &mut AnyConnection, caches: &PinnedCaches| {
        let (scope, filter) = selection(conn, &chooser, filters, q, now, tz, caches)?;
        let filter = TicketFilter {
            before_id: page.after_id,
            limit: page.fetch(),
            ..filter
        };
        Ok::<_, ApiError>((scope, filter))
    };
    // PostgreSQL: a front page goes over the worker's pipelined connection.
    let selected = if state.db.pipelines() {
        let pinned = caches.clone();
        let (scope, filter) = state.db.run(move |conn| select(conn, &pinned)).await?;
        let rows = match db::front_page(&scope, &filter) {
            Some(front) => {
                let held = caches.clone();
                state
                    .db
                    .pipelined(move |conn| crate::db::pipeline::front_page(conn, front, held))
                    .await?
            }
            None => None,
        };
        Selected::Done(Box::new((scope, filter, rows)))
    } else {
        Selected::ToDo(select)
    };
    let items = state
        .db
        .run(move |conn| {
            let (scope, filter, rows) = match selected {
                Selected::Done(selected) => *selected,
                Selected::ToDo(select) => {
                    let (scope, filter) = select(conn, &caches)?;
                    (scope, filter, None)
                }
            };
            let rows = match rows {
                Some(rows) => rows,
                None => db::list_tickets(conn, &scope, &filter)?,
            };
            let (rows, next_cursor) = page.finish(rows, |t| t.id);
            let context = TicketContext::load_to_show(conn, &rows, &caches)?;
            let items = rows
                .into_iter()
                .map(|t| context.response(&caller, t, now))
                .collect::<Result<_, _>>()?;
            Ok(TicketList { items, next_cursor })
        })
        .await?;
    // About a kilobyte a ticket.
    let capacity = 64 + items.items.len() * 1_100;
    Ok(SizedJson { value: items, capacity })
}

/// A list's scope and filter, chosen (and its page perhaps read) before
/// the read that shows it, or still to choose in that read.
enum Selected<F> {
    Done(Box<(TicketScope, TicketFilter, Option<Vec<TicketRow>>)>),
    ToDo(F),
}

/// List tickets
///
/// Complaints and disputes the caller may see, newest first: residents their
/// own and disputes they are party to; staff those now at, or once at, a unit
/// in their subtrees; admins their communities'.
///
/// Anonymous tickets hide their reporter from household and building staff
/// in every answer: `reporter` is null, and `reporter_id` does not match
/// them for those callers. All of them as one CSV file:
/// `GET /api/v1/tickets/export`.
#[utoipa::path(
    tag = "tickets",
    params(TicketFilters, TicketPage),
    responses(
        (status = 200, description = "A page of tickets.", body = TicketList),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"q": ["too_long"], "category": ["not_found"], "unit_id": ["not_found"]})))
)]
#[get("/tickets")]
async fn list_tickets(
    state: web::Data<AppState>,
    auth: Auth,
    filters: QueryParams<TicketFilters>,
    page: QueryParams<TicketPage>,
) -> Result<SizedJson<TicketList>, ApiError> {
    list(&state, auth.caller, None, filters.0, page.0).await
}

/// List complaints
///
/// As `GET /api/v1/tickets`, complaints only.
#[utoipa::path(
    tag = "tickets",
    params(TicketFilters, TicketPage),
    responses(
        (status = 200, description = "A page of complaints.", body = TicketList),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"q": ["too_long"], "category": ["not_found"], "unit_id": ["not_found"]})))
)]
#[get("/complaints")]
async fn list_complaints(
    state: web::Data<AppState>,
    auth: Auth,
    filters: QueryParams<TicketFilters>,
    page: QueryParams<TicketPage>,
) -> Result<SizedJson<TicketList>, ApiError> {
    list(&state, auth.caller, Some(Kind::Complaint), filters.0, page.0).await
}

/// List disputes
///
/// As `GET /api/v1/tickets`, disputes only.
#[utoipa::path(
    tag = "tickets",
    params(TicketFilters, TicketPage),
    responses(
        (status = 200, description = "A page of disputes.", body = TicketList),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"q": ["too_long"], "category": ["not_found"], "unit_id": ["not_found"]})))
)]
#[get("/disputes")]
async fn list_disputes(
    state: web::Data<AppState>,
    auth: Auth,
    filters: QueryParams<TicketFilters>,
    page: QueryParams<TicketPage>,
) -> Result<SizedJson<TicketList>, ApiError> {
    list(&state, auth.caller, Some(Kind::Dispute), filters.0, page.0).await
}

/// Get a ticket
///
/// With an `ETag` naming its version: send it back as `If-Match` on actions.
#[utoipa::path(
    tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id"),
        ("If-None-Match" = Option<String>, Header, description = "ETags you hold, e.g. `\"3\"`: if one is the ticket's version, the answer is 304 without a body. `overdue` and `actions` follow the clock, not the version: a client past a deadline it knows of asks without this header.")),
    responses(
        (status = 200, description = "The ticket.", body = TicketResponse,
            headers(("ETag" = String, description = "The ticket's version, e.g. `\"3\"`"))),
        (status = 304, description = "The ticket's version is the one named in `If-None-Match`.",
            headers(("ETag" = String, description = "The ticket's version, e.g. `\"3\"`"))),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/tickets/{id}")]
async fn get_ticket(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    auth: Auth,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let caller = auth.caller;
    // Loaded (and so checked for visibility) first: a 304 must not tell a
    // caller who may not see the ticket that it exists.
    let caches = state.caches.pin();
    let held = caches.clone();
    let fetched = state
        .db
        .pipelined(move |conn| crate::db::pipeline::find_ticket(conn, id, held))
        .await?;
    let (ticket, community) = state
        .db
        .run(move |conn| show_ticket(conn, &caller, id, now, &caches, fetched))
        .await?;
    let mut res = if none_match(&req, ticket.version) {
        HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(ticket.version)))
            .finish()
    } else {
        HttpResponse::Ok()
            .insert_header((header::ETAG, etag(ticket.version)))
            .json(ticket)
    };
    // The read's audit row is filed under it without looking it up again.
    res.extensions_mut().insert(ObjectCommunity(community));
    Ok(res)
}

/// `If-None-Match` names this version (weak comparison, as RFC 9110 says
/// for it), or is `*`. A value that is no list of ETags matches nothing.
fn none_match(req: &actix_web::HttpRequest, version: i64) -> bool {
    let current = etag(version);
    req.headers().get_all(header::IF_NONE_MATCH).any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == current)
        })
    })
}

fn not_found_field(field: &str, code: &'static str, en: &'static str, zh: &'static str) -> ApiError {
    ApiError::field(field, Invalid::new(code, en, zh))
}
