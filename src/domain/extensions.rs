//! Deadline extensions (延期申请): how much time may be asked, when a
//! request may be made and decided, how approval moves the resolve deadline,
//! and what the timeline says of it. Pure; who decides is
//! `policy::extensions`.

use chrono::{Duration, NaiveDateTime};

use super::text::Invalid;
use super::ticket::Status;

/// The most hours one request may add to the resolve deadline (30 days).
pub const MAX_HOURS: i32 = 720;
/// Longest reason and decision note, in characters.
pub const TEXT_MAX_CHARS: usize = 1000;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExtensionStatus {
    /// Waiting for the level above to decide.
    Pending,
    Approved,
    Denied,
}

impl ExtensionStatus {
    pub const ALL: [ExtensionStatus; 3] = [
        ExtensionStatus::Pending,
        ExtensionStatus::Approved,
        ExtensionStatus::Denied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

super::stored::stored_as_text!(ExtensionStatus, "extension status");

/// What the level above decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    /// The request's status once decided.
    pub fn status(self) -> ExtensionStatus {
        match self {
            Self::Approve => ExtensionStatus::Approved,
            Self::Deny => ExtensionStatus::Denied,
        }
    }
}

/// Why a request may not be made or decided now (answered as 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Only an open ticket (assigned or accepted) can get more time.
    TicketNotOpen,
    /// One pending request per ticket.
    AlreadyPending,
    /// A request is decided once.
    AlreadyDecided,
    /// The ticket moved on (another unit, or no longer open) since the
    /// request: it can only be denied.
    Stale,
}

/// What the ticket's timeline records: the event's kind and its note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub kind: &'static str,
    pub note: String,
}

/// A request asks for 1 to [`MAX_HOURS`] hours.
pub fn check_hours(hours: i32) -> Result<(), Invalid> {
    if (1..=MAX_HOURS).contains(&hours) {
        Ok(())
    } else {
        Err(Invalid::new(
            "out_of_range",
            "Between 1 and 720 hours.",
            "须在 1 到 720 小时之间。",
        ))
    }
}

/// Whether more time may be asked for a ticket in `status` whose earlier
/// requests stand at `earlier`. The first reason wins.
pub fn may_request(status: Status, earlier: &[ExtensionStatus]) -> Result<(), Refusal> {
    if !status.is_open() {
        return Err(Refusal::TicketNotOpen);
    }
    if earlier.contains(&ExtensionStatus::Pending) {
        return Err(Refusal::AlreadyPending);
    }
    Ok(())
}

/// The ticket as a decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketNow {
    pub status: Status,
    pub current_unit_id: i64,
}

/// Whether a request made by `asking_unit_id`, standing at `request`, may be
/// decided as `decision` with the ticket as it is now. Denying stays
/// possible after the ticket moved on, so no request is left pending.
pub fn may_decide(
    request: ExtensionStatus,
    asking_unit_id: i64,
    decision: Decision,
    ticket: TicketNow,
) -> Result<(), Refusal> {
    if request != ExtensionStatus::Pending {
        return Err(Refusal::AlreadyDecided);
    }
    if decision == Decision::Approve && (ticket.current_unit_id != asking_unit_id || !ticket.status.is_open()) {
        return Err(Refusal::Stale);
    }
    Ok(())
}

/// The resolve deadline once a request for `hours` is approved (a breach
/// recorded against the old deadline is cleared with it).
pub fn extended_deadline(resolve_due_at: NaiveDateTime, hours: i32) -> NaiveDateTime {
    resolve_due_at + Duration::hours(i64::from(hours))
}

/// The timeline entry of a request.
pub fn requested(hours: i32, reason: &str) -> TimelineEntry {
    TimelineEntry {
        kind: "extension_requested",
        note: format!("{hours} h: {reason}"),
    }
}

/// The timeline entry of a decision.
pub fn decided(decision: Decision, hours: i32, note: Option<&str>) -> TimelineEntry {
    TimelineEntry {
        kind: match decision {
            Decision::Approve => "extension_approved",
            Decision::Deny => "extension_denied",
        },
        note: match note {
            Some(note) => format!("{hours} h: {note}"),
            None => format!("{hours} h"),
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn stored_names_read_back_as_themselves() {
        for s in ExtensionStatus::ALL {
            assert_eq!(ExtensionStatus::try_from(String::from(s)), Ok(s));
        }
        assert!(ExtensionStatus::try_from("open".to_owned()).is_err());
        assert_eq!(Decision::Approve.status(), ExtensionStatus::Approved);
        assert_eq!(Decision::Deny.status(), ExtensionStatus::Denied);
    }

    #[test]
    fn a_request_asks_for_one_to_seven_hundred_twenty_hours() {
        assert_eq!(check_hours(1), Ok(()));
        assert_eq!(check_hours(MAX_HOURS), Ok(()));
        for hours in [i32::MIN, -1, 0, MAX_HOURS + 1, i32::MAX] {
            assert_eq!(check_hours(hours).map_err(|e| e.code), Err("out_of_range"), "{hours}");
        }
    }

    #[test]
    fn an_open_ticket_has_one_pending_request_at_a_time() {
        use ExtensionStatus::*;
        for status in Status::ALL {
            let expected = if status.is_open() {
                Ok(())
            } else {
                Err(Refusal::TicketNotOpen)
            };
            assert_eq!(may_request(status, &[Approved, Denied]), expected, "{status:?}");
            // A closed ticket is not open, pending request or not.
            let pending = if status.is_open() {
                Err(Refusal::AlreadyPending)
            } else {
                Err(Refusal::TicketNotOpen)
            };
            assert_eq!(may_request(status, &[Denied, Pending]), pending, "{status:?}");
        }
        assert_eq!(may_request(Status::Accepted, &[]), Ok(()));
    }

    #[test]
    fn a_request_is_decided_once_and_approved_only_where_it_was_asked() {
        let here = TicketNow {
            status: Status::Accepted,
            current_unit_id: 30,
        };
        let moved = TicketNow {
            current_unit_id: 9,
            ..here
        };
        let resolved = TicketNow {
            status: Status::Resolved,
            ..here
        };
        for decision in [Decision::Approve, Decision::Deny] {
            assert_eq!(may_decide(ExtensionStatus::Pending, 30, decision, here), Ok(()));
            for done in [ExtensionStatus::Approved, ExtensionStatus::Denied] {
                // Decided is the answer even when the ticket moved on.
                assert_eq!(may_decide(done, 30, decision, moved), Err(Refusal::AlreadyDecided));
            }
        }
        for stale in [moved, resolved] {
            assert_eq!(
                may_decide(ExtensionStatus::Pending, 30, Decision::Approve, stale),
                Err(Refusal::Stale)
            );
            assert_eq!(may_decide(ExtensionStatus::Pending, 30, Decision::Deny, stale), Ok(()));
        }
    }

    #[test]
    fn approval_moves_the_resolve_deadline_by_the_hours_asked() {
        let due = NaiveDate::from_ymd_opt(2026, 11, 30)
            .and_then(|d| d.and_hms_opt(8, 0, 0))
            .expect("a valid date");
        assert_eq!(extended_deadline(due, 48), due + Duration::days(2));
        assert_eq!(extended_deadline(due, 1), due + Duration::hours(1));
    }

    #[test]
    fn the_timeline_says_how_many_hours() {
        assert_eq!(
            requested(48, "需等待物业采购配件。"),
            TimelineEntry {
                kind: "extension_requested",
                note: "48 h: 需等待物业采购配件。".into()
            }
        );
        assert_eq!(
            decided(Decision::Approve, 48, Some("同意延期两天。")),
            TimelineEntry {
                kind: "extension_approved",
                note: "48 h: 同意延期两天。".into()
            }
        );
        assert_eq!(
            decided(Decision::Deny, 24, None),
            TimelineEntry {
                kind: "extension_denied",
                note: "24 h".into()
            }
        );
    }
}
