//! The audit row of a staff or admin change, committed in the change's own
//! transaction: a change is never committed without its row, nor a row
//! without its change, whatever kills the process in between.
//!
//! The request's row waits in a slot for the duration of the request (the
//! audit middleware opens it around the handler; the `Auth` extractor fills
//! it once it knows the caller is audited). The request's first
//! [`Db::write`](super::Db::write) takes the row into its transaction: after
//! the write's own work succeeds it files the row under its community and
//! inserts it, in the same savepoint (SQLite) or transaction (PostgreSQL).
//! The slot holds the row's id once the commit is known; a write that fails
//! rolls the row back with its work and leaves the slot open, for a later
//! write of the request or, when none succeeds, for the middleware to
//! record the refusal after the answer. Writes outside a request (the
//! worker, the CLI: [`Db::write_blocking`](super::Db::write_blocking)) and
//! requests that carry no row pay nothing.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::AnyConnection;
use super::audit::communities_of;
use super::audit_queue::PendingAudit;
use crate::error::ApiError;
use crate::policy::audit::AuditObject;

tokio::task_local! {
    static REQUEST: RequestAudit;
}

thread_local! {
    /// While a write that carries a row runs on this thread: the object it
    /// created, if it said so ([`created`]). `None` at all other times.
    static CREATED: Cell<Option<Option<Created>>> = const { Cell::new(None) };
}

/// What a write told it created, and the object's community when it knew it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Created {
    object: AuditObject,
    community: Option<i64>,
}

/// The slot of one request's write-audit row. Lives in a task-local, so it
/// is only ever touched from the request's own task (`Rc`, no lock); the
/// row itself crosses to the writing thread by value.
#[derive(Clone, Default)]
pub struct RequestAudit(Rc<RefCell<Slot>>);

#[derive(Default)]
enum Slot {
    /// The caller is not known yet, or their changes are not audited.
    #[default]
    Unused,
    /// A row waits for the request's first successful write.
    Ready(PendingAudit),
    /// A write is carrying the row now.
    Carried(PendingAudit),
    /// Committed with a change: its id and the status it records.
    Written { id: i64, status: i32 },
}

impl RequestAudit {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `request` (the handler) with this slot as the request's.
    pub async fn scope<F: Future>(self, request: F) -> F::Output {
        REQUEST.scope(self, request).await
    }

    /// Gives the current request's slot its row, if `row` makes one (the
    /// caller is audited). Does nothing (and `row` is not called) outside a
    /// request that opened a slot, or when the slot has a row already.
    pub fn prepare(row: impl FnOnce() -> Option<PendingAudit>) {
        let _ = REQUEST.try_with(|slot| {
            let mut slot = slot.0.borrow_mut();
            if matches!(*slot, Slot::Unused)
                && let Some(row) = row()
            {
                *slot = Slot::Ready(row);
            }
        });
    }

    /// The row committed with the request's change: its id and the status
    /// it records; `None` when no change carried it.
    pub fn written(&self) -> Option<(i64, i32)> {
        match *self.0.borrow() {
            Slot::Written { id, status } => Some((id, status)),
            Slot::Unused | Slot::Ready(_) | Slot::Carried(_) => None,
        }
    }
}

/// The row for the write about to start, if the current request has one
/// waiting (it is then carried until [`settle`]).
pub(super) fn claim() -> Option<PendingAudit> {
    REQUEST
        .try_with(|slot| {
            let mut slot = slot.0.borrow_mut();
            match std::mem::take(&mut *slot) {
                Slot::Ready(row) => {
                    *slot = Slot::Carried(row.clone());
                    Some(row)
                }
                other => {
                    *slot = other;
                    None
                }
            }
        })
        .ok()
        .flatten()
}

/// After a write that carried the row: on success (the commit is durable)
/// the slot holds the row's id; on failure nothing was committed, and the
/// row waits again.
pub(super) fn settle<T>(written: Result<(T, i64), ApiError>) -> Result<T, ApiError> {
    let _ = REQUEST.try_with(|slot| {
        let mut slot = slot.0.borrow_mut();
        if let Slot::Carried(row) = std::mem::take(&mut *slot) {
            *slot = match &written {
                Ok((_, id)) => Slot::Written {
                    id: *id,
                    status: row.row.status,
                },
                Err(_) => Slot::Ready(row),
            };
        }
    });
    written.map(|(value, _)| value)
}

/// Runs `f` and then, in the same transaction, inserts `row`, filed under
/// the community of the object the request's path names, else of the one
/// `f` created. A deletion's object is looked up before `f` removes it.
/// Any failure rolls back both.
pub(super) fn carry<T, F>(conn: &mut AnyConnection, mut row: PendingAudit, f: F) -> Result<(T, i64), ApiError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, ApiError>,
{
    if row.row.method == "DELETE"
        && let Some(object) = row.object
    {
        row.deleted = Some(communities_of(conn, object)?);
    }
    let (value, created) = watching_creations(|| f(conn));
    let value = value?;
    if row.object.is_none()
        && let Some(created) = created
    {
        row.object = Some(created.object);
        row.object_community = created.community;
    }
    let id = row.write(conn)?;
    Ok((value, id))
}

/// Tells the write running on this thread that it created `object` (or,
/// replaying an earlier answer, answers with it): the request's audit row,
/// if this write carries one, is filed under its community when the
/// request's path names no object (`POST /api/v1/complaints`). The first
/// object told counts. Costs nothing when no row is carried.
pub fn created(object: AuditObject) {
    tell(Created {
        object,
        community: None,
    });
}

/// [`created`], when the write knows the object's community already (a
/// filing): the row is filed under it without looking it up.
pub fn created_in(object: AuditObject, community: i64) {
    tell(Created {
        object,
        community: Some(community),
    });
}

fn tell(created: Created) {
    CREATED.with(|cell| {
        if cell.get() == Some(None) {
            cell.set(Some(Some(created)));
        }
    });
}

fn watching_creations<T>(f: impl FnOnce() -> T) -> (T, Option<Created>) {
    /// Resets the cell even when `f` panics (the writer catches panics).
    struct Reset(Option<Option<Created>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            CREATED.with(|cell| cell.set(self.0));
        }
    }
    let reset = Reset(CREATED.with(|cell| cell.replace(Some(None))));
    let value = f();
    let created = CREATED.with(Cell::get).flatten();
    drop(reset);
    (value, created)
}
