//! Pure business rules: no database, no HTTP.

pub mod extensions;
pub mod filing;
pub mod grid;
pub mod ids;
pub mod lifecycle;
pub mod mediation;
pub mod notify;
pub mod notify_text;
pub mod people;
pub mod search;
pub mod sla;
pub mod stored;
pub mod text;
pub mod ticket;
pub mod webhooks;
