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

/// The kind of an entry in the trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Entries of actors from these communities (sorted, no duplicates).
    Communities(Vec<i64>),
}

/// A super-admin reads the whole trail, an admin the entries of actors from
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
}
