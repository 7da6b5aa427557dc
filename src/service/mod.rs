//! The use cases: one function per thing a user (or the worker, or the demo
//! loader) does, each inside the caller's one transaction. Handlers, the
//! deadline worker and the demo all call these; nothing here knows HTTP.
//! They ask `policy` who may, plan with `domain`, write through `db`, and
//! return rows or ids, never response types.

pub mod callers;
pub mod extensions;
pub mod filing;
pub mod lifecycle;
pub mod mediation;
pub mod timeline;
pub mod visibility;
