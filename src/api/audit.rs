//! The audit trail: every write by staff and admins, and every admin read of
//! personal data, with who, what, when and the request id. A change's entry
//! is committed in the change's own transaction; other entries are written
//! by a middleware once the answer is known. Read by admins for their
//! communities.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::{HttpMessage, HttpRequest, get, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

use super::problems::{Forbidden, Unauthorized, ValidationFailed};
use super::tickets::{ActorRef, Actors};
use super::{PageRequest, QueryParams};
use crate::auth::Auth;
use crate::auth::extractor::AuditActor;
use crate::clock::utc;
use crate::db::audit::{self as db, AuditFilter};
use crate::db::audit_queue::{ObjectCommunity, PendingAudit};
use crate::db::models::NewAuditRow;
use crate::db::write_audit::RequestAudit;
use crate::domain::people::Role;
use crate::error::{ApiError, Invalid, Validator};
use crate::policy;
use crate::policy::audit::{Access, AuditKind, TrailScope, object_at};
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(list_audit_entries);
}

/// Routes whose answers hold personal data (names, phones, homes, tickets).
const PERSONAL_ROUTES: [&str; 6] = [
    "/api/v1/users",
    "/api/v1/tickets",
    "/api/v1/complaints",
    "/api/v1/disputes",
    "/api/v1/follow-ups",
    "/api/v1/audit",
];

/// What the trail records of a request, if anything (`policy::audit::audit_kind`
/// decides): `write` for any staff or admin change, `read` for an admin
/// reading personal data. Other methods (HEAD, OPTIONS) are neither.
pub fn audit_kind(method: &Method, route: &str, role: Role) -> Option<&'static str> {
    let access = access(method)?;
    let personal = PERSONAL_ROUTES.iter().any(|r| route.starts_with(r)) || route.ends_with("/posts");
    policy::audit::audit_kind(role, access, personal).map(AuditKind::as_str)
}

/// Middleware: puts staff and admin changes, and admins' reads of personal
/// data, on the trail, each filed under the community of the object it
/// acted on (the path's, or the one the request created).
///
/// A change's row commits with the change, in one transaction: around the
/// handler of a signed-in write request this opens the request's slot
/// (`db::write_audit`), the `Auth` extractor fills it when the caller is
/// audited ([`prepare_change_row`]), and the handler's first successful
/// `Db::write` inserts the row in its own transaction. Written before the
/// answer exists, the row holds the status the operation documents for
/// success; when the answer's differs, it is appended to the row once
/// known. A write request that changed nothing (refused, invalid, failed) is
/// recorded after the answer, with its status; a failure to record that is
/// logged and the answer stands. A read's row is queued.
pub async fn record(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Only signed-in requests are audited: an anonymous one costs nothing.
    let signed_in = req.headers().contains_key(header::AUTHORIZATION);
    let slot = (signed_in && access(req.method()) == Some(Access::Write)).then(RequestAudit::new);
    if slot.is_some()
        && let Some(state) = req.app_data::<web::Data<AppState>>()
    {
        // The trail's order is the order things happened in: the reads
        // queued before this write go in before its row.
        state.audit.settle().await;
    }
    let res = match slot.clone() {
        Some(slot) => slot.scope(async move { next.call(req).await }).await?,
        None => next.call(req).await?,
    };
    let request = res.request();
    let Some(actor) = request.extensions().get::<AuditActor>().copied() else {
        return Ok(res);
    };
    let route = request.match_pattern().unwrap_or_else(|| request.path().to_owned());
    let Some(kind) = audit_kind(request.method(), &route, actor.role) else {
        return Ok(res);
    };
    let Some(state) = request.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(res);
    };
    let status = i32::from(res.status().as_u16());
    if let Some((id, recorded)) = slot.as_ref().and_then(RequestAudit::written) {
        if status != recorded {
            let now = state.clock.now_naive();
            let appended = state
                .db
                .write_unaudited(move |conn| Ok(db::insert_answer(conn, id, status, now)?))
                .await;
            if let Err(error) = appended {
                tracing::error!(error = %error, audit_id = id, status, "could not append the answer's status to the audit trail");
            }
        }
        return Ok(res);
    }
    let object = object_at(request.path()).or_else(|| {
        res.headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(object_at)
    });
    let object_community = res.response().extensions().get::<ObjectCommunity>().map(|c| c.0);
    let pending = PendingAudit {
        row: audit_row(request, actor, kind, route, status, state.clock.now_naive()),
        object,
        object_community,
        deleted: None,
    };
    if kind == AuditKind::Read.as_str() {
        // A read changed nothing: its row is queued, never waited for.
        state.audit.push(pending).await;
        return Ok(res);
    }
    // Nothing was committed (a change would have carried this row): the row
    // has a transaction of its own.
    let written = state.db.write_unaudited(move |conn| pending.write(conn)).await;
    if let Err(error) = written {
        tracing::error!(error = %error, "could not write the audit trail");
    }
    Ok(res)
}

fn access(method: &Method) -> Option<Access> {
    match *method {
        Method::GET => Some(Access::Read),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE => Some(Access::Write),
        _ => None,
    }
}

fn audit_row(
    request: &HttpRequest,
    actor: AuditActor,
    kind: &str,
    route: String,
    status: i32,
    now: NaiveDateTime,
) -> NewAuditRow {
    NewAuditRow {
        created_at: now,
        request_id: request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default(),
        actor_id: actor.id.0,
        actor_role: actor.role.as_str().to_owned(),
        community_id: actor.community_id,
        kind: kind.to_owned(),
        method: request.method().to_string(),
        route,
        path: request.path().to_owned(),
        status,
    }
}

/// Called by the `Auth` extractor once it knows the caller: when the
/// request is a change the trail records (every change by staff and
/// admins), its row is made ready for the change's transaction, with the
/// status the operation documents for success.
pub fn prepare_change_row(req: &HttpRequest, actor: AuditActor) {
    RequestAudit::prepare(|| {
        // Staff and admins' changes are recorded, personal data or not.
        if policy::audit::audit_kind(actor.role, Access::Write, false) != Some(AuditKind::Write) {
            return None;
        }
        let route = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
        let status = req
            .app_data::<web::Data<SuccessStatuses>>()
            .and_then(|statuses| statuses.of(req.method(), &route))
            .unwrap_or(200);
        let now = req.app_data::<web::Data<AppState>>()?.clock.now_naive();
        Some(PendingAudit {
            row: audit_row(req, actor, AuditKind::Write.as_str(), route, i32::from(status), now),
            object: object_at(req.path()),
            object_community: None,
            deleted: None,
        })
    });
}

/// The status each write operation answers on success, as the OpenAPI
/// document says (the lowest, where it names two: `PUT
/// /api/v1/disputes/{id}/agreement` answers 201 or 200). A change's audit
/// row is written with it before the answer exists.
pub struct SuccessStatuses(HashMap<String, Vec<(Method, u16)>>);

impl SuccessStatuses {
    /// From each operation's path, method and the statuses it documents.
    pub fn new(operations: impl IntoIterator<Item = (String, Method, Vec<u16>)>) -> Self {
        let mut routes: HashMap<String, Vec<(Method, u16)>> = HashMap::new();
        for (path, method, statuses) in operations {
            if method == Method::GET {
                continue;
            }
            if let Some(success) = statuses.into_iter().filter(|s| (200..300).contains(s)).min() {
                routes.entry(path).or_default().push((method, success));
            }
        }
        Self(routes)
    }

    /// The success status of `method` on `route` (a pattern such as
    /// `/api/v1/tickets/{id}/accept`), if the document has the operation.
    pub fn of(&self, method: &Method, route: &str) -> Option<u16> {
        self.0
            .get(route)?
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, status)| *status)
    }
}

/// One entry of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 812, "created_at": "2026-11-28T02:00:00Z",
    "request_id": "0b5c6a4e-3f1d-4d8e-9a55-3f2f0c1d2e7a", "actor": {"id": 2, "display_name": "社区管理员"},
    "actor_role": "admin", "kind": "write", "action": "PATCH /api/v1/users/{id}",
    "object": "/api/v1/users/57", "status": 200}))]
pub struct AuditEntry {
    pub id: i64,
    #[serde(serialize_with = "crate::api::rfc3339::to_json")]
    pub created_at: DateTime<Utc>,
    /// Also in the log and the answer's `X-Request-Id` header.
    pub request_id: String,
    pub actor: Option<ActorRef>,
    pub actor_role: Role,
    pub kind: AuditKind,
    /// Method and route, e.g. `POST /api/v1/tickets/{id}/accept`.
    pub action: String,
    /// The path asked for, e.g. `/api/v1/tickets/1024/accept` (never the query).
    pub object: String,
    /// The HTTP status answered.
    pub status: i32,
}

/// A page of the trail, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": null}))]
pub struct AuditList {
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this actor's entries.
    pub actor_id: Option<i64>,
    /// Entries at or after (RFC 3339).
    #[serde(default, deserialize_with = "super::rfc3339::optional")]
    pub from: Option<DateTime<Utc>>,
    /// Entries before (RFC 3339).
    #[serde(default, deserialize_with = "super::rfc3339::optional")]
    pub to: Option<DateTime<Utc>>,
    /// 1–100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[^\u0000]*$")]
    pub cursor: Option<String>,
}

/// The audit trail
///
/// Every write by staff and admins and every admin read of personal data,
/// newest first: who (actor and role), what (method and route, and the path),
/// when, the answer's status and the request id. Each entry is filed under
/// the community of the object acted on (a ticket, unit, post, account,
/// extension request or follow-up visit, or the one a request created); a
/// request that names none is filed under the actor's community. Admins
/// read the entries filed under their communities, whoever the actor (a
/// super-admin or staff from another community included); super-admins read
/// all. A change and its entry are committed together: no change is kept
/// without its entry. Append-only.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the trail.", body = AuditList),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"from": ["after_to"]})))
)]
#[get("/audit")]
async fn list_audit_entries(
    state: web::Data<AppState>,
    auth: Auth,
    query: QueryParams<AuditQuery>,
) -> Result<web::Json<AuditList>, ApiError> {
    let query = query.0;
    let scope = policy::audit::readable_trail(&auth.caller).ok_or(ApiError::Forbidden)?;
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from >= to
    {
        let mut v = Validator::default();
        v.push(
            "from",
            Invalid::new("after_to", "`from` must be before `to`.", "from 须早于 to。"),
        );
        v.finish()?;
    }
    let communities = match scope {
        TrailScope::All => None,
        TrailScope::Communities(ids) => Some(ids),
    };
    // This process's queued rows first, so the trail shows its own reads.
    state.audit.drain().await;
    let (items, next_cursor) = state
        .db
        .run_long(move |conn| {
            let rows = db::list_audit(
                conn,
                &AuditFilter {
                    communities,
                    actor_id: query.actor_id,
                    from: query.from.map(|t| t.naive_utc()),
                    to: query.to.map(|t| t.naive_utc()),
                    before_id: page.after_id,
                    limit: page.fetch(),
                },
            )?;
            let (rows, next) = page.finish(rows, |(r, _)| r.id);
            let people = Actors::load(conn, rows.iter().map(|(r, _)| r.actor_id))?;
            let items = rows
                .into_iter()
                .map(|(r, answered)| {
                    Ok(AuditEntry {
                        id: r.id,
                        created_at: utc(r.created_at),
                        request_id: r.request_id,
                        actor: people.get(r.actor_id),
                        actor_role: Role::try_from(r.actor_role).map_err(ApiError::internal)?,
                        kind: AuditKind::parse(&r.kind)
                            .ok_or_else(|| ApiError::internal(format!("unknown audit kind {:?}", r.kind)))?,
                        action: format!("{} {}", r.method, r.route),
                        object: r.path,
                        status: answered.unwrap_or(r.status),
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            Ok((items, next))
        })
        .await?;
    Ok(web::Json(AuditList { items, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_and_admin_writes_and_admin_reads_of_personal_data_are_audited() {
        let post = Method::POST;
        let get = Method::GET;
        assert_eq!(
            audit_kind(&post, "/api/v1/tickets/{id}/accept", Role::Staff),
            Some("write")
        );
        assert_eq!(
            audit_kind(&Method::DELETE, "/api/v1/posts/{id}", Role::Admin),
            Some("write")
        );
        assert_eq!(audit_kind(&post, "/api/v1/complaints", Role::Resident), None);
        assert_eq!(audit_kind(&get, "/api/v1/users/{id}", Role::Admin), Some("read"));
        assert_eq!(
            audit_kind(&get, "/api/v1/units/{id}/posts", Role::Superadmin),
            Some("read")
        );
        assert_eq!(
            audit_kind(&get, "/api/v1/disputes/{id}/parties", Role::Admin),
            Some("read")
        );
        assert_eq!(
            audit_kind(&get, "/api/v1/units", Role::Admin),
            None,
            "the grid is not personal"
        );
        assert_eq!(audit_kind(&get, "/api/v1/stats", Role::Admin), None);
        assert_eq!(
            audit_kind(&get, "/api/v1/tickets", Role::Staff),
            None,
            "staff reads are their work"
        );
    }
}
