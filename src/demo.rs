//! `griddesk demo`: a community modelled on Junmen (军门社区, Fuzhou), so a
//! newcomer can try everything in Swagger UI within a minute.

use chrono::NaiveDateTime;

use crate::auth::password;
use crate::db::models::{NewUserRow, UnitRow};
use crate::db::queries::{self, NewUnit};
use crate::db::{AnyConnection, Db, write_transaction};
use crate::domain::people::Role;
use crate::error::ApiError;

/// Every demo account signs in with this password.
pub const DEMO_PASSWORD: &str = "junmen-demo-2026";
const COMMUNITY_CODE: &str = "JM";

const BRANCHES: [(&str, &str); 3] = [
    ("军门小区党支部", "JM-B1"),
    ("凤凰小区党支部", "JM-B2"),
    ("湖东小区党支部", "JM-B3"),
];
const HOUSEHOLD_FAMILIES: [&str; 18] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林",
];
const RESIDENTS: [&str; 20] = [
    "王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "黄敏", "赵军", "吴丽", "周杰", "徐婷", "孙浩", "马超", "朱琳",
    "胡斌", "郭燕", "何强", "林峰", "郑雪", "谢涛",
];

/// What the demo holds, for the summary printed after loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub created: bool,
    pub accounts: Vec<(String, String, String)>,
}

/// Loads the demo community unless it is already there.
pub fn load(db: &Db, now: NaiveDateTime) -> Result<DemoSummary, ApiError> {
    let hash = password::hash(DEMO_PASSWORD)?;
    let mut conn = db.conn()?;
    let created = write_transaction(&mut conn, |conn| {
        let exists = queries::list_units(
            conn,
            &queries::UnitFilter {
                parent_id: None,
                level: Some("committee"),
                q: Some(COMMUNITY_CODE),
                public_only: false,
                after_id: None,
                limit: 100,
            },
        )?
        .iter()
        .any(|u| u.code.as_deref() == Some(COMMUNITY_CODE));
        if exists {
            return Ok(false);
        }
        build(conn, &hash, now)?;
        Ok(true)
    })?;
    Ok(DemoSummary {
        created,
        accounts: accounts(),
    })
}

fn accounts() -> Vec<(String, String, String)> {
    let row = |role: &str, user: &str, note: &str| (role.to_owned(), user.to_owned(), note.to_owned());
    vec![
        row("admin", "jm.admin", "community admin of 军门社区"),
        row("staff", "jm.committee", "committee worker (社区党委)"),
        row("staff", "jm.branch1", "branch secretary of 军门小区党支部"),
        row("staff", "jm.b1.bldg1", "building group leader of 军门小区 1号楼"),
        row("staff", "jm.b1.bldg1.h1", "party-member household of 军门小区 1号楼"),
        row("resident", "resident01", "王芳, 军门小区 1号楼 1-101"),
    ]
}

/// Inserts demo rows inside the loading transaction.
struct Loader<'a> {
    conn: &'a mut AnyConnection,
    hash: &'a str,
    now: NaiveDateTime,
    phones: u32,
}

impl Loader<'_> {
    fn unit(&mut self, parent: Option<&UnitRow>, level: &str, name: &str, code: &str) -> Result<UnitRow, ApiError> {
        queries::insert_unit(
            self.conn,
            NewUnit {
                parent,
                level,
                name,
                code: Some(code),
            },
            self.now,
        )
    }

    /// A user with a demo phone number; `home` is (building, room, household).
    fn user(
        &mut self,
        username: &str,
        display_name: &str,
        role: Role,
        home: Option<(i64, &str, i64)>,
    ) -> Result<i64, ApiError> {
        self.phones += 1;
        let phone = format!("1380000{:04}", self.phones);
        let row = queries::insert_user(
            self.conn,
            &NewUserRow {
                phone: Some(&phone),
                building_id: home.map(|h| h.0),
                room: home.map(|h| h.1),
                household_id: home.map(|h| h.2),
                ..NewUserRow::new(username, display_name, self.hash, role.as_str(), self.now)
            },
        )?;
        Ok(row.id)
    }

    fn post(&mut self, user_id: i64, unit: &UnitRow) -> Result<(), ApiError> {
        queries::insert_post(self.conn, user_id, unit.id, self.now).map(drop)
    }
}

fn build(conn: &mut AnyConnection, hash: &str, now: NaiveDateTime) -> Result<(), ApiError> {
    let mut l = Loader {
        conn,
        hash,
        now,
        phones: 0,
    };
    let committee = l.unit(None, "committee", "军门社区党委", COMMUNITY_CODE)?;
    let admin = l.user("jm.admin", "社区管理员", Role::Admin, None)?;
    l.post(admin, &committee)?;
    let worker = l.user("jm.committee", "社区专职网格员", Role::Staff, None)?;
    l.post(worker, &committee)?;

    // (building id, building number, household id) of every household.
    let mut homes = Vec::new();
    for (b, (branch_name, branch_code)) in (1..).zip(BRANCHES) {
        let branch = l.unit(Some(&committee), "branch", branch_name, branch_code)?;
        let compound: String = branch_name.chars().take(2).collect();
        let secretary = l.user(
            &format!("jm.branch{b}"),
            &format!("{compound}支部书记"),
            Role::Staff,
            None,
        )?;
        l.post(secretary, &branch)?;
        for n in 1..=2 {
            let building = l.unit(
                Some(&branch),
                "building",
                &format!("{n}号楼"),
                &format!("{branch_code}-{n:02}"),
            )?;
            let leader = l.user(
                &format!("jm.b{b}.bldg{n}"),
                &format!("{compound}{n}号楼党小组长"),
                Role::Staff,
                None,
            )?;
            l.post(leader, &building)?;
            for h in 1..=3 {
                let family = HOUSEHOLD_FAMILIES[homes.len() % HOUSEHOLD_FAMILIES.len()];
                let name = format!("党员中心户·{family}家");
                let household = l.unit(
                    Some(&building),
                    "household",
                    &name,
                    &format!("{branch_code}-{n:02}-H{h}"),
                )?;
                let holder = l.user(
                    &format!("jm.b{b}.bldg{n}.h{h}"),
                    &format!("{family}党员"),
                    Role::Staff,
                    None,
                )?;
                l.post(holder, &household)?;
                homes.push((building.id, n, household.id));
            }
        }
    }
    for (i, name) in RESIDENTS.iter().enumerate() {
        let (building_id, building_no, household_id) = homes[i % homes.len()];
        let room = format!("{building_no}-{}{:02}", i / homes.len() + 1, i % homes.len() + 1);
        l.user(
            &format!("resident{:02}", i + 1),
            name,
            Role::Resident,
            Some((building_id, &room, household_id)),
        )?;
    }
    Ok(())
}
