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

const BRANCHES: [(&str, &str); 3] = [("军门小区党支部", "JM-B1"), ("凤凰小区党支部", "JM-B2"), ("湖东小区党支部", "JM-B3")];
const HOUSEHOLD_FAMILIES: [&str; 18] =
    ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林"];
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
            &queries::UnitFilter { parent_id: None, level: Some("committee"), q: Some(COMMUNITY_CODE), public_only: false, after_id: None, limit: 100 },
        )?
        .iter()
        .any(|u| u.code.as_deref() == Some(COMMUNITY_CODE));
        if exists {
            return Ok(false);
        }
        build(conn, &hash, now)?;
        Ok(true)
    })?;
    Ok(DemoSummary { created, accounts: accounts() })
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

fn unit(conn: &mut AnyConnection, parent: Option<&UnitRow>, level: &str, name: &str, code: &str, now: NaiveDateTime) -> Result<UnitRow, ApiError> {
    queries::insert_unit(conn, NewUnit { parent, level, name, code: Some(code) }, now)
}

fn user(
    conn: &mut AnyConnection,
    hash: &str,
    username: &str,
    display_name: &str,
    phone: &str,
    role: Role,
    home: Option<(i64, &str, i64)>,
    now: NaiveDateTime,
) -> Result<i64, ApiError> {
    let row = queries::insert_user(
        conn,
        &NewUserRow {
            username,
            display_name,
            phone: Some(phone),
            password_hash: hash,
            role: role.as_str(),
            active: true,
            token_version: 0,
            building_id: home.map(|h| h.0),
            room: home.map(|h| h.1),
            household_id: home.map(|h| h.2),
            created_by: None,
            created_at: now,
            updated_at: now,
        },
    )?;
    Ok(row.id)
}

fn build(conn: &mut AnyConnection, hash: &str, now: NaiveDateTime) -> Result<(), ApiError> {
    let committee = unit(conn, None, "committee", "军门社区党委", COMMUNITY_CODE, now)?;
    let admin = user(conn, hash, "jm.admin", "社区管理员", "13800000001", Role::Admin, None, now)?;
    queries::insert_post(conn, admin, committee.id, now)?;
    let worker = user(conn, hash, "jm.committee", "社区专职网格员", "13800000002", Role::Staff, None, now)?;
    queries::insert_post(conn, worker, committee.id, now)?;

    let mut homes = Vec::new();
    let mut phone_seq = 10u32;
    let mut next_phone = || {
        phone_seq += 1;
        format!("1380000{phone_seq:04}")
    };
    for (b, (branch_name, branch_code)) in BRANCHES.iter().enumerate() {
        let b = b + 1;
        let branch = unit(conn, Some(&committee), "branch", branch_name, branch_code, now)?;
        let secretary = user(conn, hash, &format!("jm.branch{b}"), &format!("{}书记", &branch_name[..6]), &next_phone(), Role::Staff, None, now)?;
        queries::insert_post(conn, secretary, branch.id, now)?;
        for n in 1..=2 {
            let building = unit(conn, Some(&branch), "building", &format!("{n}号楼"), &format!("{branch_code}-{n:02}"), now)?;
            let leader = user(conn, hash, &format!("jm.b{b}.bldg{n}"), &format!("{n}号楼党小组长"), &next_phone(), Role::Staff, None, now)?;
            queries::insert_post(conn, leader, building.id, now)?;
            for h in 1..=3 {
                let family = HOUSEHOLD_FAMILIES[((b - 1) * 6 + (n - 1) * 3 + (h - 1)) % HOUSEHOLD_FAMILIES.len()];
                let household = unit(
                    conn,
                    Some(&building),
                    "household",
                    &format!("党员中心户·{family}家"),
                    &format!("{branch_code}-{n:02}-H{h}"),
                    now,
                )?;
                let holder = user(conn, hash, &format!("jm.b{b}.bldg{n}.h{h}"), &format!("{family}党员"), &next_phone(), Role::Staff, None, now)?;
                queries::insert_post(conn, holder, household.id, now)?;
                homes.push((building.id, n, household.id));
            }
        }
    }
    for (i, name) in RESIDENTS.iter().enumerate() {
        let (building_id, building_no, household_id) = homes[i % homes.len()];
        let room = format!("{building_no}-{}{:02}", i / homes.len() + 1, i % homes.len() + 1);
        user(conn, hash, &format!("resident{:02}", i + 1), name, &next_phone(), Role::Resident, Some((building_id, &room, household_id)), now)?;
    }
    Ok(())
}
