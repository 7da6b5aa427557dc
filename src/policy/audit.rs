//! What the audit trail records, and whose entries a caller may read
//! (PRODUCT: "every staff and admin write, and every admin read of personal
//! data").

use super::Caller;
use crate::domain::grid::community_of;
use crate::domain::people::Role;

/// What a request does, as the trail sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The kind of an entry in the trail: `write` (a change by staff or an
/// admin) or `read` (an admin reading personal data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    Read,
    Write,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Read, Self::Write].into_iter().find(|k| k.as_str() == s)
    }
}

/// What the trail records of a request by someone with `role`: every change
/// by staff and admins, and admins' reads of personal data. Residents' own
/// requests and staff reads (their daily work) are not recorded.
pub fn audit_kind(role: Role, access: Access, personal_data: bool) -> Option<AuditKind> {
    match (role, access) {
        (Role::Resident, _) => None,
        (Role::Staff | Role::Admin | Role::Superadmin, Access::Write) => Some(AuditKind::Write),
        (Role::Admin | Role::Superadmin, Access::Read) if personal_data => Some(AuditKind::Read),
        (Role::Staff | Role::Admin | Role::Superadmin, Access::Read) => None,
    }
}

/// Whose entries a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrailScope {
    All,
    /// Entries filed under these communities (sorted, no duplicates).
    Communities(Vec<i64>),
}

/// A super-admin reads the whole trail, an admin the entries filed under
/// the communities where they hold posts; nobody else reads it.
pub fn readable_trail(caller: &Caller) -> Option<TrailScope> {
    match caller.role {
        Role::Superadmin => Some(TrailScope::All),
        Role::Admin => {
            let mut ids: Vec<i64> = caller.posts.iter().filter_map(|p| community_of(&p.path)).collect();
            ids.sort_unstable();
            ids.dedup();
            Some(TrailScope::Communities(ids))
        }
        Role::Staff | Role::Resident => None,
    }
}

/// The object a request acted on, as far as its path tells: the trail files
/// each entry under that object's community, so the admin of the community
/// whose people or tickets were touched reads it, whoever the actor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditObject {
    /// A ticket, complaint or dispute (and everything under its path).
    Ticket(i64),
    Unit(i64),
    Post(i64),
    User(i64),
    ExtensionRequest(i64),
    FollowUp(i64),
}

/// The object named by an API path such as `/api/v1/tickets/12/accept` or a
/// `Location` header such as `/api/v1/units/40`; `None` for collections and
/// paths that name nothing in one community (`/api/v1/me`, categories).
pub fn object_at(path: &str) -> Option<AuditObject> {
    let mut segments = path.strip_prefix("/api/v1/")?.split('/');
    let resource = segments.next()?;
    let id: i64 = segments.next()?.parse().ok()?;
    Some(match resource {
        "tickets" | "complaints" | "disputes" => AuditObject::Ticket(id),
        "units" => AuditObject::Unit(id),
        "posts" => AuditObject::Post(id),
        "users" => AuditObject::User(id),
        "extension-requests" => AuditObject::ExtensionRequest(id),
        "follow-ups" => AuditObject::FollowUp(id),
        _ => return None,
    })
}

/// The community an entry is filed under: the object's, when the request
/// named one that still resolves; among an account's several communities the
/// actor's own if it is one of them; otherwise the actor's community.
pub fn filed_under(object: &[i64], actor_community: Option<i64>) -> Option<i64> {
    match actor_community {
        Some(own) if object.contains(&own) => Some(own),
        _ => object.iter().min().copied().or(actor_community),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::grid::Level;
    use crate::domain::ids::{UnitId, UserId};
    use crate::policy::PostScope;

    #[test]
    fn staff_and_admin_writes_and_admin_reads_of_personal_data_are_recorded() {
        use Access::{Read, Write};
        let write = Some(AuditKind::Write);
        let read = Some(AuditKind::Read);
        // (role, access, personal data, recorded as)
        let cases = [
            (Role::Resident, Write, true, None),
            (Role::Resident, Write, false, None),
            (Role::Resident, Read, true, None),
            (Role::Resident, Read, false, None),
            (Role::Staff, Write, true, write),
            (Role::Staff, Write, false, write),
            (Role::Staff, Read, true, None),
            (Role::Staff, Read, false, None),
            (Role::Admin, Write, true, write),
            (Role::Admin, Write, false, write),
            (Role::Admin, Read, true, read),
            (Role::Admin, Read, false, None),
            (Role::Superadmin, Write, true, write),
            (Role::Superadmin, Write, false, write),
            (Role::Superadmin, Read, true, read),
            (Role::Superadmin, Read, false, None),
        ];
        for (role, access, personal, expected) in cases {
            assert_eq!(
                audit_kind(role, access, personal),
                expected,
                "{role:?} {access:?} {personal}"
            );
        }
        assert_eq!(AuditKind::Read.as_str(), "read");
        assert_eq!(AuditKind::Write.as_str(), "write");
    }

    fn caller(role: Role, paths: &[&str]) -> Caller {
        Caller {
            id: UserId(1),
            role,
            posts: paths
                .iter()
                .map(|path| PostScope {
                    unit_id: UnitId(0),
                    level: Level::Committee,
                    path: (*path).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn admins_read_the_entries_of_their_communities() {
        assert_eq!(readable_trail(&caller(Role::Superadmin, &[])), Some(TrailScope::All));
        assert_eq!(
            readable_trail(&caller(Role::Admin, &["/12/", "/3/", "/12/"])),
            Some(TrailScope::Communities(vec![3, 12]))
        );
        assert_eq!(
            readable_trail(&caller(Role::Admin, &[])),
            Some(TrailScope::Communities(vec![]))
        );
        assert_eq!(readable_trail(&caller(Role::Staff, &["/1/"])), None);
        assert_eq!(readable_trail(&caller(Role::Resident, &[])), None);
    }
    #[test]
    fn paths_name_the_object_acted_on() {
        use AuditObject::*;
        let cases = [
            ("/api/v1/tickets/12/accept", Some(Ticket(12))),
            ("/api/v1/complaints/7", Some(Ticket(7))),
            ("/api/v1/disputes/9/parties", Some(Ticket(9))),
            ("/api/v1/units/40", Some(Unit(40))),
            ("/api/v1/units/40/posts", Some(Unit(40))),
            ("/api/v1/posts/5", Some(Post(5))),
            ("/api/v1/users/57", Some(User(57))),
            ("/api/v1/extension-requests/3/approve", Some(ExtensionRequest(3))),
            ("/api/v1/follow-ups/8/record", Some(FollowUp(8))),
            ("/api/v1/tickets", None),
            ("/api/v1/me", None),
            ("/api/v1/categories/2", None),
            ("/api/v1/units/x", None),
            ("/healthz", None),
        ];
        for (path, expected) in cases {
            assert_eq!(object_at(path), expected, "{path}");
        }
    }

    #[test]
    fn entries_are_filed_under_the_object_community() {
        assert_eq!(filed_under(&[7], Some(3)), Some(7), "the object's, not the actor's");
        assert_eq!(filed_under(&[7], None), Some(7), "a super-admin's too");
        assert_eq!(filed_under(&[3, 7], Some(7)), Some(7), "the actor's among several");
        assert_eq!(filed_under(&[7, 3], Some(12)), Some(3));
        assert_eq!(filed_under(&[], Some(3)), Some(3), "nothing resolved: the actor's");
        assert_eq!(filed_under(&[], None), None);
    }
}
