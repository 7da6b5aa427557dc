//! Deadlines (时限): which hours apply to a ticket arriving at a unit.

use chrono::NaiveDateTime;

use super::grid::Level;
use super::ids::UnitId;
use super::notify::Deadline;
use super::ticket::{Priority, Status};

/// The statuses in which the sign-for clock runs (a ticket waiting at a unit).
pub const SIGN_FOR_CLOCK_RUNS: [Status; 1] = [Status::Assigned];
/// The statuses in which the resolve clock runs (a ticket open at a unit).
pub const RESOLVE_CLOCK_RUNS: [Status; 2] = [Status::Assigned, Status::Accepted];

/// Overdue (超期): a running deadline has passed. The one definition: the
/// ticket's `overdue` field, the `overdue` list filter and the deadline
/// worker's claims all use these clocks.
pub fn is_overdue(status: Status, accept_due: NaiveDateTime, resolve_due: NaiveDateTime, now: NaiveDateTime) -> bool {
    (SIGN_FOR_CLOCK_RUNS.contains(&status) && accept_due < now)
        || (RESOLVE_CLOCK_RUNS.contains(&status) && resolve_due < now)
}

/// A ticket's two deadlines at the unit holding it, and whether the
/// deadline worker has already recorded either as missed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clocks {
    pub accept_due_at: NaiveDateTime,
    pub resolve_due_at: NaiveDateTime,
    pub accept_breach_recorded: bool,
    pub resolve_breach_recorded: bool,
}

impl Clocks {
    /// `deadline` has run out by `at` and no breach of it is recorded yet.
    pub fn unrecorded_miss(&self, deadline: Deadline, at: NaiveDateTime) -> bool {
        match deadline {
            Deadline::SignFor => late(self.accept_due_at, at) && !self.accept_breach_recorded,
            Deadline::Resolve => late(self.resolve_due_at, at) && !self.resolve_breach_recorded,
        }
    }
}

/// A missed deadline (超时), kept on the record of the unit that held the
/// ticket when the deadline ran out. A ticket moving on resets its
/// deadlines; the breach stays, and statistics count it against that unit
/// and the units above it, never against units below it the ticket passed
/// through earlier nor against the unit it went on to (unless above it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breach {
    pub unit: UnitId,
    pub deadline: Deadline,
}

/// Met late: the deadline `due` had passed at `at`. The worker's claims ask
/// the same (`due < now`).
pub fn late(due: NaiveDateTime, at: NaiveDateTime) -> bool {
    at > due
}

/// The breaches a step at `at` records at `unit` when it stops a deadline's
/// clock after that deadline ran out: signing for or resolving late, or
/// moving or closing the ticket with a deadline gone, before the worker
/// came by to record it. `leaves` says the ticket goes to another unit
/// (where fresh deadlines start). A miss the worker recorded is not
/// recorded again.
pub fn stopped_late(
    clocks: &Clocks,
    unit: UnitId,
    from: Status,
    to: Status,
    leaves: bool,
    at: NaiveDateTime,
) -> Vec<Breach> {
    [
        (Deadline::SignFor, &SIGN_FOR_CLOCK_RUNS[..]),
        (Deadline::Resolve, &RESOLVE_CLOCK_RUNS[..]),
    ]
    .into_iter()
    .filter(|(deadline, runs)| {
        let stops = runs.contains(&from) && (leaves || !runs.contains(&to));
        stops && clocks.unrecorded_miss(*deadline, at)
    })
    .map(|(deadline, _)| Breach { unit, deadline })
    .collect()
}

/// How much of a deadline's time may pass before the unit holding the
/// ticket is warned (a pre-breach warning), in percent (1–99).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarnAt(u8);

impl WarnAt {
    pub const DEFAULT: WarnAt = WarnAt(75);

    pub fn percent(percent: u8) -> Option<Self> {
        (1..=99).contains(&percent).then_some(Self(percent))
    }

    pub fn share(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    /// When to warn of a deadline whose time runs from `from` to `due`. The
    /// deadline worker's query asks the same of the database.
    pub fn time(self, from: NaiveDateTime, due: NaiveDateTime) -> NaiveDateTime {
        from + (due - from) * i32::from(self.0) / 100
    }
}

/// Hours to sign for and to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub accept: i32,
    pub resolve: i32,
}

/// A deadline rule; each key it names must match, the others are wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub level: Option<Level>,
    pub category_id: Option<i64>,
    pub priority: Option<Priority>,
    pub hours: Hours,
}

impl Rule {
    fn matches(&self, level: Level, category_id: i64, priority: Priority) -> bool {
        self.level.is_none_or(|l| l == level)
            && self.category_id.is_none_or(|c| c == category_id)
            && self.priority.is_none_or(|p| p == priority)
    }

    /// Category outranks priority, priority outranks level; naming more
    /// keys outranks naming fewer.
    fn specificity(&self) -> u8 {
        4 * u8::from(self.category_id.is_some())
            + 2 * u8::from(self.priority.is_some())
            + u8::from(self.level.is_some())
    }
}

/// The hours for a ticket of `category_id` and `priority` arriving at a unit
/// of `level`: the most specific matching rule, else the category's own.
pub fn hours_for(rules: &[Rule], level: Level, category_id: i64, priority: Priority, catalogue: Hours) -> Hours {
    rules
        .iter()
        .filter(|r| r.matches(level, category_id, priority))
        .max_by_key(|r| r.specificity())
        .map_or(catalogue, |r| r.hours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_stopped_after_it_ran_out_is_a_breach_of_the_unit_holding_the_ticket() {
        let t = |h: i64| {
            chrono::DateTime::from_timestamp(h * 3600, 0)
                .map(|d| d.naive_utc())
                .unwrap_or_default()
        };
        let clocks = Clocks {
            accept_due_at: t(10),
            resolve_due_at: t(20),
            accept_breach_recorded: false,
            resolve_breach_recorded: false,
        };
        let unit = UnitId(3);
        let at_unit = |deadline| Breach { unit, deadline };
        let (assigned, accepted, resolved) = (Status::Assigned, Status::Accepted, Status::Resolved);
        // Signing for on the deadline is in time; a second after is late.
        assert_eq!(stopped_late(&clocks, unit, assigned, accepted, false, t(10)), []);
        assert_eq!(
            stopped_late(
                &clocks,
                unit,
                assigned,
                accepted,
                false,
                t(10) + chrono::Duration::seconds(1)
            ),
            [at_unit(Deadline::SignFor)]
        );
        // Signing for does not stop the resolve clock, resolving does.
        assert_eq!(
            stopped_late(&clocks, unit, assigned, accepted, false, t(21)),
            [at_unit(Deadline::SignFor)]
        );
        assert_eq!(stopped_late(&clocks, unit, accepted, resolved, false, t(19)), []);
        assert_eq!(
            stopped_late(&clocks, unit, accepted, resolved, false, t(21)),
            [at_unit(Deadline::Resolve)]
        );
        // Leaving the unit stops every running clock; closing does too.
        assert_eq!(
            stopped_late(&clocks, unit, assigned, assigned, true, t(21)),
            [at_unit(Deadline::SignFor), at_unit(Deadline::Resolve)]
        );
        assert_eq!(stopped_late(&clocks, unit, assigned, assigned, true, t(9)), []);
        assert_eq!(
            stopped_late(&clocks, unit, accepted, Status::Withdrawn, false, t(21)),
            [at_unit(Deadline::Resolve)]
        );
        // No clock runs once resolved.
        assert_eq!(stopped_late(&clocks, unit, resolved, Status::Closed, false, t(30)), []);
        // A miss the worker recorded is not recorded again.
        let recorded = Clocks {
            accept_breach_recorded: true,
            resolve_breach_recorded: true,
            ..clocks
        };
        assert_eq!(stopped_late(&recorded, unit, assigned, assigned, true, t(30)), []);
    }

    #[test]
    fn a_warning_comes_when_its_share_of_the_time_is_gone() {
        let from = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .and_then(|d| d.and_hms_opt(8, 0, 0))
            .unwrap();
        let due = from + chrono::Duration::hours(24);
        assert_eq!(WarnAt::DEFAULT.time(from, due), from + chrono::Duration::hours(18));
        assert_eq!(
            WarnAt::percent(50).unwrap().time(from, due),
            from + chrono::Duration::hours(12)
        );
        assert_eq!(WarnAt::percent(0), None);
        assert_eq!(WarnAt::percent(100), None);
        assert!((WarnAt::DEFAULT.share() - 0.75).abs() < f64::EPSILON);
    }

    #[test]
    fn deadlines_run_while_a_ticket_is_open_at_a_unit() {
        for status in Status::ALL {
            assert_eq!(RESOLVE_CLOCK_RUNS.contains(&status), status.is_open(), "{status:?}");
            assert_eq!(
                SIGN_FOR_CLOCK_RUNS.contains(&status),
                status == Status::Assigned,
                "{status:?}"
            );
        }
        let t = |h: i64| {
            chrono::DateTime::from_timestamp(h * 3600, 0)
                .map(|d| d.naive_utc())
                .unwrap_or_default()
        };
        let (accept_due, resolve_due) = (t(10), t(20));
        assert!(
            !is_overdue(Status::Assigned, accept_due, resolve_due, t(10)),
            "due is not late"
        );
        assert!(
            is_overdue(Status::Assigned, accept_due, resolve_due, t(11)),
            "late to sign for"
        );
        assert!(
            !is_overdue(Status::Accepted, accept_due, resolve_due, t(11)),
            "signed for in the end"
        );
        assert!(
            is_overdue(Status::Accepted, accept_due, resolve_due, t(21)),
            "late to resolve"
        );
        for done in [Status::Resolved, Status::Closed, Status::Merged] {
            assert!(!is_overdue(done, accept_due, resolve_due, t(100)), "{done:?}");
        }
    }

    fn rule(level: Option<Level>, category_id: Option<i64>, priority: Option<Priority>, accept: i32) -> Rule {
        Rule {
            level,
            category_id,
            priority,
            hours: Hours {
                accept,
                resolve: accept * 4,
            },
        }
    }

    #[test]
    fn the_most_specific_matching_rule_wins() {
        let catalogue = Hours {
            accept: 24,
            resolve: 72,
        };
        let noise = 4;
        let rules = vec![
            rule(Some(Level::Household), None, None, 1),
            rule(None, None, Some(Priority::Urgent), 2),
            rule(Some(Level::Household), None, Some(Priority::Urgent), 3),
            rule(None, Some(noise), None, 5),
            rule(Some(Level::Building), Some(noise), None, 6),
            rule(None, Some(noise), Some(Priority::Urgent), 7),
        ];
        let at = |level, category, priority| hours_for(&rules, level, category, priority, catalogue).accept;
        assert_eq!(at(Level::Household, 9, Priority::Normal), 1, "level");
        assert_eq!(at(Level::Branch, 9, Priority::Urgent), 2, "priority beats nothing");
        assert_eq!(
            at(Level::Household, 9, Priority::Urgent),
            3,
            "priority and level beat either"
        );
        assert_eq!(at(Level::Household, noise, Priority::Normal), 5, "category beats level");
        assert_eq!(
            at(Level::Building, noise, Priority::Normal),
            6,
            "category and level beat category"
        );
        assert_eq!(
            at(Level::Household, noise, Priority::Urgent),
            7,
            "category and priority beat the rest"
        );
        assert_eq!(
            at(Level::Committee, 9, Priority::Low),
            24,
            "no rule: the category's own hours"
        );
        assert_eq!(
            hours_for(&[], Level::Household, noise, Priority::Urgent, catalogue),
            catalogue
        );
    }
}
