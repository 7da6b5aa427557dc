//! People's mediation (人民调解) of disputes: who the parties are, how a
//! session ended, when an agreement's follow-up visit (履行回访) falls due,
//! when each record may be made, and what the timeline says of it. Pure.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::text::Invalid;
use super::ticket::Status;

/// A follow-up falls due this long after the agreement (履行回访).
pub const FOLLOW_UP_AFTER_DAYS: i64 = 30;
/// Parties a dispute may have, applicants and respondents together.
pub const MAX_PARTIES: usize = 30;
/// Longest session summary and agreement terms, in characters.
pub const SUMMARY_MAX_CHARS: usize = 4000;
/// Longest follow-up note, in characters.
pub const FOLLOW_UP_NOTE_MAX_CHARS: usize = 2000;

/// Which side a party is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyRole {
    /// 申请人
    Applicant,
    /// 被申请人
    Respondent,
}

impl PartyRole {
    pub const ALL: [PartyRole; 2] = [PartyRole::Applicant, PartyRole::Respondent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applicant => "applicant",
            Self::Respondent => "respondent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

super::stored::stored_as_text!(PartyRole, "party role");

/// How a session, or a dispute, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediationOutcome {
    /// 调解成功
    Settled,
    /// 调解不成
    NotSettled,
}

impl MediationOutcome {
    pub const ALL: [MediationOutcome; 2] = [MediationOutcome::Settled, MediationOutcome::NotSettled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Settled => "settled",
            Self::NotSettled => "not_settled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

super::stored::stored_as_text!(MediationOutcome, "outcome");

/// Whether the parties kept the agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpResult {
    /// 已履行
    Fulfilled,
    /// 部分履行
    PartlyFulfilled,
    /// 未履行
    NotFulfilled,
}

impl FollowUpResult {
    pub const ALL: [FollowUpResult; 3] = [
        FollowUpResult::Fulfilled,
        FollowUpResult::PartlyFulfilled,
        FollowUpResult::NotFulfilled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fulfilled => "fulfilled",
            Self::PartlyFulfilled => "partly_fulfilled",
            Self::NotFulfilled => "not_fulfilled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A mediation session as recorded, validated (its summary checked, not held
/// in the future).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub held_at: NaiveDateTime,
    pub mediator_id: i64,
    pub summary: String,
    pub outcome: Option<MediationOutcome>,
}

/// Why a mediation record may not be made now (answered as 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Parties, sessions and the agreement are recorded while the dispute is open.
    DisputeNotOpen,
    /// The resident account is a party already.
    AlreadyParty,
    /// The dispute has [`MAX_PARTIES`] parties.
    TooManyParties,
    /// A follow-up is recorded once.
    FollowUpRecorded,
    /// A follow-up is recorded once the dispute is resolved (as settled) or closed.
    DisputeNotSettled,
}

/// What the dispute's timeline records: the event's kind and its note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub kind: &'static str,
    pub note: String,
}

/// Parties are added, sessions and the agreement recorded, only while the
/// dispute is being worked on at a grid unit (assigned or accepted).
pub fn may_record(status: Status) -> Result<(), Refusal> {
    if status.is_open() {
        Ok(())
    } else {
        Err(Refusal::DisputeNotOpen)
    }
}

/// Whether another party may join a dispute whose parties' resident
/// accounts are `party_user_ids` (one entry per party, `None` for an
/// outside party). A resident joins once; a dispute has at most
/// [`MAX_PARTIES`] parties. The first reason wins.
pub fn may_add_party(party_user_ids: &[Option<i64>], joining_user_id: Option<i64>) -> Result<(), Refusal> {
    if joining_user_id.is_some() && party_user_ids.contains(&joining_user_id) {
        return Err(Refusal::AlreadyParty);
    }
    if party_user_ids.len() >= MAX_PARTIES {
        return Err(Refusal::TooManyParties);
    }
    Ok(())
}

/// A session is recorded after it was held.
pub fn check_held_at(held_at: NaiveDateTime, now: NaiveDateTime) -> Result<(), Invalid> {
    if held_at > now {
        Err(Invalid::new(
            "in_future",
            "A session is recorded after it was held.",
            "调解须在举行后录入。",
        ))
    } else {
        Ok(())
    }
}

/// A session is held no earlier than the dispute was filed.
pub fn check_held_after_filing(held_at: NaiveDateTime, filed_at: NaiveDateTime) -> Result<(), Invalid> {
    if held_at < filed_at {
        Err(Invalid::new(
            "before_filing",
            "A session cannot be held before the dispute was filed.",
            "调解时间不能早于纠纷登记时间。",
        ))
    } else {
        Ok(())
    }
}

/// A mediator is an active staff member or admin with a post in the
/// dispute's community (who may mediate is `policy::mediation`).
pub const MEDIATOR_NOT_FOUND: Invalid = Invalid::new(
    "not_found",
    "No active staff member of this community has this id.",
    "本社区没有此编号的在岗工作人员。",
);

/// An agreement's performance deadline lies in the future.
pub fn check_performance_deadline(deadline: NaiveDateTime, now: NaiveDateTime) -> Result<(), Invalid> {
    if deadline <= now {
        Err(Invalid::new(
            "not_future",
            "The deadline must be in the future.",
            "履行期限须晚于当前时间。",
        ))
    } else {
        Ok(())
    }
}

/// When the follow-up of an agreement recorded (or revised) at `agreed_at`
/// falls due; revising the agreement moves the open follow-up.
pub fn follow_up_due_at(agreed_at: NaiveDateTime) -> NaiveDateTime {
    agreed_at + Duration::days(FOLLOW_UP_AFTER_DAYS)
}

/// A follow-up is recorded once, and only of a dispute resolved (as
/// settled) or closed. The first reason wins.
pub fn may_record_follow_up(already_recorded: bool, dispute_status: Status) -> Result<(), Refusal> {
    if already_recorded {
        return Err(Refusal::FollowUpRecorded);
    }
    if !matches!(dispute_status, Status::Resolved | Status::Closed) {
        return Err(Refusal::DisputeNotSettled);
    }
    Ok(())
}

/// A follow-up is overdue when it is due and not yet recorded.
pub fn follow_up_overdue(due_at: NaiveDateTime, recorded_at: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    recorded_at.is_none() && due_at <= now
}

/// The timeline entry of a party joining.
pub fn party_added(role: PartyRole, name: &str) -> TimelineEntry {
    TimelineEntry {
        kind: "party_added",
        note: format!("{}: {name}", role.as_str()),
    }
}

/// The timeline entry of a session (the summary stays in the session).
pub fn session_held(held_at: NaiveDateTime, outcome: Option<MediationOutcome>) -> TimelineEntry {
    TimelineEntry {
        kind: "mediation",
        note: format!(
            "session held {}; outcome: {}",
            held_at.format("%Y-%m-%d %H:%M UTC"),
            outcome.map_or("to be continued", MediationOutcome::as_str)
        ),
    }
}

/// The timeline entry of an agreement first recorded, or revised (then the
/// earlier terms and deadline stay on the timeline).
pub fn agreement_saved(terms: &str, deadline: NaiveDateTime, previous: Option<(&str, NaiveDateTime)>) -> TimelineEntry {
    let deadline_text = deadline.format("%Y-%m-%d");
    match previous {
        None => TimelineEntry {
            kind: "agreement",
            note: format!("performance deadline {deadline_text}: {terms}"),
        },
        Some((old_terms, old_deadline)) => TimelineEntry {
            kind: "agreement_revised",
            note: format!(
                "performance deadline {deadline_text}: {terms} (was, until {}: {old_terms})",
                old_deadline.format("%Y-%m-%d"),
            ),
        },
    }
}

/// The timeline entry of a follow-up recorded.
pub fn follow_up_recorded(result: FollowUpResult, note: Option<&str>) -> TimelineEntry {
    TimelineEntry {
        kind: "follow_up",
        note: match note {
            Some(note) => format!("{}: {note}", result.as_str()),
            None => result.as_str().to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .expect("a valid date")
    }

    #[test]
    fn names_read_back_as_themselves() {
        for r in PartyRole::ALL {
            assert_eq!(PartyRole::parse(r.as_str()), Some(r));
        }
        for o in MediationOutcome::ALL {
            assert_eq!(MediationOutcome::parse(o.as_str()), Some(o));
        }
        for r in FollowUpResult::ALL {
            assert_eq!(FollowUpResult::parse(r.as_str()), Some(r));
        }
        assert_eq!(MediationOutcome::parse("unknown"), None);
        assert_eq!(FollowUpResult::parse(""), None);
        assert_eq!(PartyRole::parse("Applicant"), None);
    }

    #[test]
    fn the_api_names_are_the_stored_names() {
        for r in FollowUpResult::ALL {
            assert_eq!(serde_json::to_value(r).ok(), Some(serde_json::json!(r.as_str())));
        }
        for o in MediationOutcome::ALL {
            assert_eq!(serde_json::to_value(o).ok(), Some(serde_json::json!(o.as_str())));
        }
        for r in PartyRole::ALL {
            assert_eq!(serde_json::to_value(r).ok(), Some(serde_json::json!(r.as_str())));
        }
    }

    #[test]
    fn records_are_made_only_while_the_dispute_is_open() {
        for status in Status::ALL {
            let expected = if matches!(status, Status::Assigned | Status::Accepted) {
                Ok(())
            } else {
                Err(Refusal::DisputeNotOpen)
            };
            assert_eq!(may_record(status), expected, "{status:?}");
        }
    }

    #[test]
    fn a_resident_joins_once_and_a_dispute_has_at_most_thirty_parties() {
        let two = [Some(12), None];
        assert_eq!(may_add_party(&two, Some(13)), Ok(()));
        assert_eq!(may_add_party(&two, None), Ok(()));
        assert_eq!(may_add_party(&two, Some(12)), Err(Refusal::AlreadyParty));
        // Outside parties are never the same party twice.
        assert_eq!(may_add_party(&[None, None], None), Ok(()));

        let almost = vec![None; MAX_PARTIES - 1];
        assert_eq!(may_add_party(&almost, None), Ok(()));
        let full = vec![None; MAX_PARTIES];
        assert_eq!(may_add_party(&full, None), Err(Refusal::TooManyParties));
        assert_eq!(may_add_party(&full, Some(5)), Err(Refusal::TooManyParties));
        // A resident already there is told so even when the dispute is full.
        let mut full_with_resident = full.clone();
        full_with_resident[0] = Some(5);
        assert_eq!(may_add_party(&full_with_resident, Some(5)), Err(Refusal::AlreadyParty));
    }

    #[test]
    fn sessions_lie_between_the_filing_and_now() {
        let filed = at(1, 8);
        let now = at(20, 8);
        assert_eq!(check_held_at(now, now), Ok(()));
        assert_eq!(check_held_at(at(20, 9), now).map_err(|e| e.code), Err("in_future"));
        assert_eq!(check_held_after_filing(filed, filed), Ok(()));
        assert_eq!(
            check_held_after_filing(at(1, 7), filed).map_err(|e| e.code),
            Err("before_filing")
        );
    }

    #[test]
    fn the_performance_deadline_lies_in_the_future() {
        let now = at(20, 8);
        assert_eq!(check_performance_deadline(at(20, 9), now), Ok(()));
        assert_eq!(
            check_performance_deadline(now, now).map_err(|e| e.code),
            Err("not_future")
        );
        assert_eq!(
            check_performance_deadline(at(19, 8), now).map_err(|e| e.code),
            Err("not_future")
        );
    }

    #[test]
    fn the_follow_up_falls_due_thirty_days_after_the_agreement() {
        assert_eq!(follow_up_due_at(at(20, 8)), at(20, 8) + Duration::days(30));
        assert_eq!(
            follow_up_due_at(at(1, 0)),
            NaiveDate::from_ymd_opt(2026, 12, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("a valid date")
        );
    }

    #[test]
    fn a_follow_up_is_overdue_once_due_until_recorded() {
        let due = at(20, 8);
        assert!(!follow_up_overdue(due, None, at(20, 7)));
        assert!(follow_up_overdue(due, None, due));
        assert!(follow_up_overdue(due, None, at(25, 0)));
        assert!(!follow_up_overdue(due, Some(at(21, 0)), at(25, 0)));
    }

    #[test]
    fn a_follow_up_is_recorded_once_of_a_settled_dispute() {
        for status in Status::ALL {
            let settled = matches!(status, Status::Resolved | Status::Closed);
            assert_eq!(
                may_record_follow_up(false, status),
                if settled {
                    Ok(())
                } else {
                    Err(Refusal::DisputeNotSettled)
                },
                "{status:?}"
            );
            // Recorded already is the answer whatever the dispute's status.
            assert_eq!(may_record_follow_up(true, status), Err(Refusal::FollowUpRecorded));
        }
    }

    #[test]
    fn the_timeline_says_what_was_recorded() {
        assert_eq!(
            party_added(PartyRole::Respondent, "李先生"),
            TimelineEntry {
                kind: "party_added",
                note: "respondent: 李先生".into()
            }
        );
        let held = at(20, 6) + Duration::minutes(30);
        assert_eq!(
            session_held(held, None).note,
            "session held 2026-11-20 06:30 UTC; outcome: to be continued"
        );
        assert_eq!(
            session_held(held, Some(MediationOutcome::NotSettled)),
            TimelineEntry {
                kind: "mediation",
                note: "session held 2026-11-20 06:30 UTC; outcome: not_settled".into()
            }
        );
        assert_eq!(
            agreement_saved("修复防水层", at(30, 0), None),
            TimelineEntry {
                kind: "agreement",
                note: "performance deadline 2026-11-30: 修复防水层".into()
            }
        );
        assert_eq!(
            agreement_saved("修复防水层并赔偿", at(30, 0), Some(("修复防水层", at(25, 0)))),
            TimelineEntry {
                kind: "agreement_revised",
                note: "performance deadline 2026-11-30: 修复防水层并赔偿 (was, until 2026-11-25: 修复防水层)".into()
            }
        );
        assert_eq!(
            follow_up_recorded(FollowUpResult::PartlyFulfilled, Some("赔偿未付")),
            TimelineEntry {
                kind: "follow_up",
                note: "partly_fulfilled: 赔偿未付".into()
            }
        );
        assert_eq!(follow_up_recorded(FollowUpResult::Fulfilled, None).note, "fulfilled");
    }
}
