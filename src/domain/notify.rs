//! Who is told what when something happens to a ticket: a pure function
//! from a timeline event (and the ticket as it stands after it) to the
//! notifications it causes. The service writes them in the event's own
//! transaction; the API renders their text in the reader's language.
//!
//! A notification names no person: no reporter, actor, party or staff
//! member, and no text anyone typed (titles, notes, comments). It carries
//! its kind, the ticket, a unit (a place in the grid, never a person) and a
//! deadline. So whatever a recipient may not read of a ticket (who filed an
//! anonymous one, internal notes, phones) it cannot read in a notification
//! either; the app opens the ticket for the rest, under the ticket's rules.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::grid::Level;
use super::ids::{UnitId, UserId};
use super::lifecycle::AUTO_CLOSE_AFTER_DAYS;
use super::ticket::EventKind;

/// What a notification tells its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// To the staff of a unit: a ticket arrived there (filed, escalated,
    /// dispatched, returned or reopened) and waits to be signed for by
    /// `due_at`.
    Arrived,
    /// To the reporter and resident parties: the ticket was signed for.
    Accepted,
    /// To the reporter and resident parties: the ticket moved to a unit of
    /// a higher level (`unit`).
    MovedUp,
    /// To the reporter and resident parties: the ticket moved to a unit of
    /// a lower level (`unit`).
    MovedDown,
    /// To the reporter and resident parties: resolved; confirm or reopen it
    /// before `due_at`, when it closes by itself.
    Resolved,
    /// To resident parties (not the one who reopened it): the resolution was
    /// rejected and the ticket is being handled again.
    Reopened,
    /// To the reporter and resident parties: closed by itself after the
    /// resolution went unanswered.
    AutoClosed,
    /// To the reporter and resident parties: not accepted (不予受理).
    Rejected,
    /// To the reporter and resident parties: handed outside the grid.
    Referred,
    /// To the reporter and resident parties of a duplicate: it was merged
    /// into another ticket, whose outcome it now follows.
    Merged,
    /// To the staff of the ticket's unit: the reporter withdrew it.
    Withdrawn,
    /// A public comment: to the reporter and resident parties when staff
    /// wrote it, to the staff of the ticket's unit when a resident did.
    Commented,
    /// To the reporter and resident parties: a mediation session was
    /// recorded.
    MediationRecorded,
    /// To the reporter and resident parties: a mediation agreement was
    /// recorded or revised.
    AgreementRecorded,
    /// To the staff of the ticket's unit: a deadline (`due_at`) was missed.
    Overdue,
    /// 催办: to the staff of the unit above one (`unit`) that missed its
    /// deadline to resolve (`due_at`).
    Urged,
    /// To the staff of the unit above one (`unit`) that asks for more time:
    /// approve or deny it. `due_at` is the deadline as it stands.
    ExtensionRequested,
    /// To the staff of the unit that asked: the ticket may be resolved by
    /// `due_at`.
    ExtensionApproved,
    /// To the staff of the unit that asked: the deadline stays `due_at`.
    ExtensionDenied,
    /// To the staff of the ticket's unit: most of the time to sign for it
    /// is gone; sign for it by `due_at` (a pre-breach warning, once per
    /// deadline).
    SignForDueSoon,
    /// To the staff of the ticket's unit: most of the time to resolve it is
    /// gone; resolve it by `due_at` (once per deadline).
    ResolveDueSoon,
    /// To the staff of a settled dispute's unit: its follow-up visit
    /// (履行回访) is due (`due_at`).
    FollowUpDue,
    /// To a community's admins: one of its webhook endpoints kept failing
    /// and was disabled (`unit` is the community; no ticket). Resume it
    /// with `PATCH /webhooks/{id}`.
    WebhookDisabled,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 23] = [
        NotificationKind::Arrived,
        NotificationKind::Accepted,
        NotificationKind::MovedUp,
        NotificationKind::MovedDown,
        NotificationKind::Resolved,
        NotificationKind::Reopened,
        NotificationKind::AutoClosed,
        NotificationKind::Rejected,
        NotificationKind::Referred,
        NotificationKind::Merged,
        NotificationKind::Withdrawn,
        NotificationKind::Commented,
        NotificationKind::MediationRecorded,
        NotificationKind::AgreementRecorded,
        NotificationKind::Overdue,
        NotificationKind::Urged,
        NotificationKind::ExtensionRequested,
        NotificationKind::ExtensionApproved,
        NotificationKind::ExtensionDenied,
        NotificationKind::SignForDueSoon,
        NotificationKind::ResolveDueSoon,
        NotificationKind::FollowUpDue,
        NotificationKind::WebhookDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Arrived => "arrived",
            NotificationKind::Accepted => "accepted",
            NotificationKind::MovedUp => "moved_up",
            NotificationKind::MovedDown => "moved_down",
            NotificationKind::Resolved => "resolved",
            NotificationKind::Reopened => "reopened",
            NotificationKind::AutoClosed => "auto_closed",
            NotificationKind::Rejected => "rejected",
            NotificationKind::Referred => "referred",
            NotificationKind::Merged => "merged",
            NotificationKind::Withdrawn => "withdrawn",
            NotificationKind::Commented => "commented",
            NotificationKind::MediationRecorded => "mediation_recorded",
            NotificationKind::AgreementRecorded => "agreement_recorded",
            NotificationKind::Overdue => "overdue",
            NotificationKind::Urged => "urged",
            NotificationKind::ExtensionRequested => "extension_requested",
            NotificationKind::ExtensionApproved => "extension_approved",
            NotificationKind::ExtensionDenied => "extension_denied",
            NotificationKind::SignForDueSoon => "sign_for_due_soon",
            NotificationKind::ResolveDueSoon => "resolve_due_soon",
            NotificationKind::FollowUpDue => "follow_up_due",
            NotificationKind::WebhookDisabled => "webhook_disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Who receives a notification, before the staff of a unit are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    User(UserId),
    /// Everyone holding a post at exactly this unit.
    StaffOf(UnitId),
}

/// A notification to write, addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub to: Recipient,
    pub kind: NotificationKind,
    pub unit: Option<UnitId>,
    pub due_at: Option<NaiveDateTime>,
}

/// What the rules need of an event and of its ticket after it.
#[derive(Debug, Clone)]
pub struct EventFacts<'a> {
    pub kind: EventKind,
    /// `None` for the system (the deadline worker).
    pub actor: Option<UserId>,
    /// An internal note: told to no one.
    pub internal: bool,
    pub reporter: UserId,
    /// Residents who are parties to the dispute (empty for a complaint).
    pub parties: &'a [UserId],
    /// Where the event took the ticket (an arrival).
    pub to_unit: Option<UnitId>,
    /// For a move: the levels of the unit it left and of the one it reached.
    pub levels: Option<(Level, Level)>,
    /// The unit the event is about: the one that asked for more time (an
    /// extension's events), else the ticket's.
    pub from_unit: Option<UnitId>,
    /// The unit above the one that missed a deadline or asked for more time
    /// (`None` at a committee, or when the event needs none).
    pub unit_above: Option<UnitId>,
    /// The ticket's unit after the event.
    pub current_unit: UnitId,
    pub accept_due_at: NaiveDateTime,
    pub resolve_due_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

impl EventFacts<'_> {
    fn residents(&self) -> impl Iterator<Item = UserId> + '_ {
        std::iter::once(self.reporter).chain(self.parties.iter().copied())
    }

    fn by_resident(&self) -> bool {
        self.actor.is_some_and(|actor| self.residents().any(|r| r == actor))
    }
}

/// The notifications `event` causes, addressed; never to its own actor
/// (the service drops the actor from a unit's staff too), each user once.
pub fn notices(event: &EventFacts) -> Vec<Notice> {
    use NotificationKind as N;
    if event.internal {
        return Vec::new();
    }
    let mut out = Vec::new();
    let residents = |out: &mut Vec<Notice>, kind, unit: Option<UnitId>, due_at| {
        for user in event.residents() {
            out.push(Notice {
                to: Recipient::User(user),
                kind,
                unit,
                due_at,
            });
        }
    };
    let arrived = |out: &mut Vec<Notice>| {
        if let Some(to) = event.to_unit {
            out.push(Notice {
                to: Recipient::StaffOf(to),
                kind: N::Arrived,
                unit: Some(to),
                due_at: Some(event.accept_due_at),
            });
        }
    };
    let staff_here = |out: &mut Vec<Notice>, kind, due_at| {
        out.push(Notice {
            to: Recipient::StaffOf(event.current_unit),
            kind,
            unit: Some(event.current_unit),
            due_at,
        });
    };
    match event.kind {
        EventKind::Filed => arrived(&mut out),
        EventKind::Escalate | EventKind::AutoEscalate | EventKind::Dispatch | EventKind::Return => {
            arrived(&mut out);
            if let (Some((from, to)), Some(unit)) = (event.levels, event.to_unit) {
                // Level::ALL runs from the committee down: a smaller index is higher.
                let kind = if rank(to) < rank(from) {
                    N::MovedUp
                } else {
                    N::MovedDown
                };
                residents(&mut out, kind, Some(unit), None);
            }
        }
        EventKind::Accept => residents(&mut out, N::Accepted, Some(event.current_unit), None),
        EventKind::Resolve => {
            let closes_at = event.resolved_at.map(|at| at + Duration::days(AUTO_CLOSE_AFTER_DAYS));
            residents(&mut out, N::Resolved, Some(event.current_unit), closes_at);
        }
        EventKind::Reopen => {
            arrived(&mut out);
            residents(&mut out, N::Reopened, event.to_unit, None);
        }
        EventKind::AutoClose => residents(&mut out, N::AutoClosed, None, None),
        EventKind::Reject => residents(&mut out, N::Rejected, None, None),
        EventKind::Refer => residents(&mut out, N::Referred, None, None),
        EventKind::Merge => residents(&mut out, N::Merged, None, None),
        EventKind::Withdraw => staff_here(&mut out, N::Withdrawn, None),
        EventKind::Comment if event.by_resident() => staff_here(&mut out, N::Commented, None),
        EventKind::Comment => residents(&mut out, N::Commented, None, None),
        EventKind::Mediation => residents(&mut out, N::MediationRecorded, None, None),
        EventKind::Agreement | EventKind::AgreementRevised => residents(&mut out, N::AgreementRecorded, None, None),
        EventKind::AcceptOverdue => staff_here(&mut out, N::Overdue, Some(event.accept_due_at)),
        EventKind::ResolveOverdue => {
            staff_here(&mut out, N::Overdue, Some(event.resolve_due_at));
            if let Some(above) = event.unit_above {
                out.push(Notice {
                    to: Recipient::StaffOf(above),
                    kind: N::Urged,
                    unit: Some(event.current_unit),
                    due_at: Some(event.resolve_due_at),
                });
            }
        }
        EventKind::ExtensionRequested => {
            let asking = event.from_unit.unwrap_or(event.current_unit);
            out.push(Notice {
                // A committee has nothing above: its other staff decide.
                to: Recipient::StaffOf(event.unit_above.unwrap_or(asking)),
                kind: N::ExtensionRequested,
                unit: Some(asking),
                due_at: Some(event.resolve_due_at),
            });
        }
        EventKind::ExtensionApproved | EventKind::ExtensionDenied => {
            let asking = event.from_unit.unwrap_or(event.current_unit);
            out.push(Notice {
                to: Recipient::StaffOf(asking),
                kind: if event.kind == EventKind::ExtensionApproved {
                    N::ExtensionApproved
                } else {
                    N::ExtensionDenied
                },
                unit: Some(asking),
                due_at: Some(event.resolve_due_at),
            });
        }
        // Told elsewhere, or nothing anyone waits for.
        EventKind::Close | EventKind::MergedDuplicate | EventKind::PartyAdded | EventKind::FollowUp => {}
    }
    let mut seen = Vec::new();
    out.retain(|notice| {
        if let Recipient::User(user) = notice.to {
            if Some(user) == event.actor || seen.contains(&user) {
                return false;
            }
            seen.push(user);
        }
        true
    });
    out
}

/// Which deadline a pre-breach warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    SignFor,
    Resolve,
}

/// A pre-breach warning (the deadline worker's): to the staff of the unit
/// holding the ticket, naming the deadline.
pub fn warning(deadline: Deadline, unit: UnitId, due_at: NaiveDateTime) -> Notice {
    Notice {
        to: Recipient::StaffOf(unit),
        kind: match deadline {
            Deadline::SignFor => NotificationKind::SignForDueSoon,
            Deadline::Resolve => NotificationKind::ResolveDueSoon,
        },
        unit: Some(unit),
        due_at: Some(due_at),
    }
}

/// A follow-up visit fell due: to the staff of the dispute's unit.
pub fn follow_up_due(unit: UnitId, due_at: NaiveDateTime) -> Notice {
    Notice {
        to: Recipient::StaffOf(unit),
        kind: NotificationKind::FollowUpDue,
        unit: Some(unit),
        due_at: Some(due_at),
    }
}

fn rank(level: Level) -> usize {
    Level::ALL.iter().position(|l| *l == level).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 1)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .unwrap()
    }

    const REPORTER: UserId = UserId(10);
    const STAFF: UserId = UserId(20);
    const HOUSEHOLD: UnitId = UnitId(4);
    const BUILDING: UnitId = UnitId(3);

    fn facts(kind: EventKind, actor: Option<UserId>) -> EventFacts<'static> {
        EventFacts {
            kind,
            actor,
            internal: false,
            reporter: REPORTER,
            parties: &[],
            to_unit: None,
            levels: None,
            from_unit: None,
            unit_above: None,
            current_unit: HOUSEHOLD,
            accept_due_at: at(9),
            resolve_due_at: at(12),
            resolved_at: None,
        }
    }

    fn kinds_to(notices: &[Notice], to: Recipient) -> Vec<NotificationKind> {
        notices.iter().filter(|n| n.to == to).map(|n| n.kind).collect()
    }

    #[test]
    fn kinds_round_trip_their_names() {
        for kind in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(NotificationKind::parse("nothing"), None);
    }

    #[test]
    fn a_filing_tells_the_staff_where_it_lands_and_not_the_reporter() {
        let mut event = facts(EventKind::Filed, Some(REPORTER));
        event.to_unit = Some(HOUSEHOLD);
        let notices = notices(&event);
        assert_eq!(
            notices,
            vec![Notice {
                to: Recipient::StaffOf(HOUSEHOLD),
                kind: NotificationKind::Arrived,
                unit: Some(HOUSEHOLD),
                due_at: Some(at(9)),
            }]
        );
    }

    #[test]
    fn moves_tell_the_residents_up_or_down_and_the_staff_of_the_arrival() {
        let mut up = facts(EventKind::Escalate, Some(STAFF));
        up.to_unit = Some(BUILDING);
        up.levels = Some((Level::Household, Level::Building));
        let notices = notices(&up);
        assert_eq!(
            kinds_to(&notices, Recipient::User(REPORTER)),
            vec![NotificationKind::MovedUp]
        );
        assert_eq!(
            kinds_to(&notices, Recipient::StaffOf(BUILDING)),
            vec![NotificationKind::Arrived]
        );
        let mut down = facts(EventKind::Return, Some(STAFF));
        down.to_unit = Some(HOUSEHOLD);
        down.levels = Some((Level::Building, Level::Household));
        assert_eq!(
            kinds_to(&super::notices(&down), Recipient::User(REPORTER)),
            vec![NotificationKind::MovedDown]
        );
    }

    #[test]
    fn a_resolution_names_when_it_closes_by_itself() {
        let mut event = facts(EventKind::Resolve, Some(STAFF));
        event.resolved_at = Some(at(10));
        let notices = notices(&event);
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].due_at, Some(at(10) + Duration::days(AUTO_CLOSE_AFTER_DAYS)));
    }

    #[test]
    fn internal_notes_tell_no_one_and_the_actor_is_never_told() {
        let mut note = facts(EventKind::Comment, Some(STAFF));
        note.internal = true;
        assert!(notices(&note).is_empty());
        // A party comments: the staff are told, not the party themself.
        let parties = [UserId(11)];
        let mut comment = facts(EventKind::Comment, Some(UserId(11)));
        comment.parties = &parties;
        assert_eq!(
            notices(&comment),
            vec![Notice {
                to: Recipient::StaffOf(HOUSEHOLD),
                kind: NotificationKind::Commented,
                unit: Some(HOUSEHOLD),
                due_at: None,
            }]
        );
        // The reporter reopens: the other party hears of it, the reporter not.
        let mut reopen = facts(EventKind::Reopen, Some(REPORTER));
        reopen.parties = &parties;
        reopen.to_unit = Some(HOUSEHOLD);
        let notices = notices(&reopen);
        assert!(kinds_to(&notices, Recipient::User(REPORTER)).is_empty());
        assert_eq!(
            kinds_to(&notices, Recipient::User(UserId(11))),
            vec![NotificationKind::Reopened]
        );
    }

    #[test]
    fn a_reporter_who_is_also_a_party_is_told_once() {
        let parties = [REPORTER, UserId(11)];
        let mut event = facts(EventKind::Accept, Some(STAFF));
        event.parties = &parties;
        let notices = notices(&event);
        assert_eq!(kinds_to(&notices, Recipient::User(REPORTER)).len(), 1);
        assert_eq!(notices.len(), 2);
    }

    #[test]
    fn every_event_kind_is_decided() {
        // Exhaustive by the match; this checks none of them panics and that
        // the worker's misses go to the unit's staff.
        for kind in EventKind::ALL {
            let mut event = facts(kind, None);
            event.to_unit = Some(BUILDING);
            event.levels = Some((Level::Household, Level::Building));
            let notices = notices(&event);
            if matches!(kind, EventKind::AcceptOverdue | EventKind::ResolveOverdue) {
                assert_eq!(
                    kinds_to(&notices, Recipient::StaffOf(HOUSEHOLD)),
                    vec![NotificationKind::Overdue]
                );
            }
        }
    }

    #[test]
    fn a_missed_resolve_deadline_urges_the_unit_above() {
        let mut event = facts(EventKind::ResolveOverdue, None);
        event.unit_above = Some(BUILDING);
        let notices = notices(&event);
        assert_eq!(
            kinds_to(&notices, Recipient::StaffOf(HOUSEHOLD)),
            vec![NotificationKind::Overdue]
        );
        let urged: Vec<&Notice> = notices
            .iter()
            .filter(|n| n.to == Recipient::StaffOf(BUILDING))
            .collect();
        assert_eq!(urged.len(), 1);
        assert_eq!(
            (urged[0].kind, urged[0].unit, urged[0].due_at),
            (NotificationKind::Urged, Some(HOUSEHOLD), Some(at(12)))
        );
        // At the committee there is no one above to urge.
        event.unit_above = None;
        assert_eq!(super::notices(&event).len(), 1);
    }

    #[test]
    fn extensions_go_to_the_level_above_and_back_to_the_unit_that_asked() {
        let mut asked = facts(EventKind::ExtensionRequested, Some(STAFF));
        asked.from_unit = Some(HOUSEHOLD);
        asked.unit_above = Some(BUILDING);
        assert_eq!(
            kinds_to(&notices(&asked), Recipient::StaffOf(BUILDING)),
            vec![NotificationKind::ExtensionRequested]
        );
        for (kind, told) in [
            (EventKind::ExtensionApproved, NotificationKind::ExtensionApproved),
            (EventKind::ExtensionDenied, NotificationKind::ExtensionDenied),
        ] {
            let mut decided = facts(kind, Some(UserId(30)));
            decided.from_unit = Some(HOUSEHOLD);
            assert_eq!(kinds_to(&notices(&decided), Recipient::StaffOf(HOUSEHOLD)), vec![told]);
        }
    }
}
