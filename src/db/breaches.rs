//! Missed deadlines on the record of the unit that missed them
//! (`ticket_breaches`, migration `000024_breach_record`). Its insert trigger
//! flags the statistics rows (`ticket_reach`) of that unit and the units
//! above it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::ticket_breaches;
use crate::domain::notify::Deadline;
use crate::domain::sla::Breach;

/// A breach row as written.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ticket_breaches)]
pub struct NewBreachRow {
    pub ticket_id: i64,
    pub unit_id: i64,
    pub deadline: &'static str,
    pub at: NaiveDateTime,
}

impl NewBreachRow {
    pub fn new(ticket_id: i64, breach: Breach, at: NaiveDateTime) -> Self {
        Self {
            ticket_id,
            unit_id: breach.unit.0,
            deadline: deadline_name(breach.deadline),
            at,
        }
    }
}

/// The stored name of a deadline, as the migration's backfill spells it.
pub fn deadline_name(deadline: Deadline) -> &'static str {
    match deadline {
        Deadline::SignFor => "accept",
        Deadline::Resolve => "resolve",
    }
}

/// Records `breaches` of ticket `ticket_id` found at `at`, in the caller's
/// transaction.
pub fn record(conn: &mut AnyConnection, ticket_id: i64, breaches: &[Breach], at: NaiveDateTime) -> QueryResult<()> {
    // One row at a time: `MultiConnection` cannot batch-insert, and a step
    // records two at most.
    for breach in breaches {
        diesel::insert_into(ticket_breaches::table)
            .values(NewBreachRow::new(ticket_id, *breach, at))
            .execute(conn)?;
    }
    Ok(())
}
