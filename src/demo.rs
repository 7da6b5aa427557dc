//! `griddesk demo`: a community modelled on Junmen (军门社区, Fuzhou), so a
//! newcomer can try everything in Swagger UI within a minute.

use chrono::{Duration, NaiveDateTime};

use crate::auth::password;
use crate::db::PinnedCaches;
use crate::db::batch::When;
use crate::db::models::{NewUserRow, UnitRow};
use crate::db::queries::{self, NewUnit};
use crate::db::{AnyConnection, Db};
use crate::domain::extensions::Decision;
use crate::domain::filing::{Filing, FilingInput, PartyInput};
use crate::domain::ids::{TicketId, UnitId, UserId};
use crate::domain::lifecycle::Step;
use crate::domain::mediation::{MediationOutcome, NewSession};
use crate::domain::people::Role;
use crate::domain::ticket::Kind;
use crate::error::ApiError;
use crate::policy::Caller;
use crate::service::callers::load_caller;
use crate::service::filing::file;
use crate::service::lifecycle::apply_step;
use crate::service::mediation::{record_session, save_agreement};

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

/// Loads the demo community unless it is already there; with sample
/// tickets in every status when `with_tickets`.
pub fn load(db: &Db, now: NaiveDateTime, with_tickets: bool) -> Result<DemoSummary, ApiError> {
    let hash = password::hash(DEMO_PASSWORD)?;
    let created = db.write_blocking(move |conn| {
        let exists = queries::list_units(
            conn,
            &queries::UnitFilter {
                parent_id: None,
                level: Some("committee"),
                q: Some(COMMUNITY_CODE),
                households: queries::Households::All,
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
        if with_tickets {
            sample_tickets(conn, now)?;
        }
        Ok(true)
    })?;
    if created && with_tickets {
        // The deadline worker's first pass: tickets left waiting too long climb the grid.
        crate::worker::run_once(db, now)?;
    }
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

/// A demo account as a caller.
fn who(conn: &mut AnyConnection, username: &str) -> Result<Caller, ApiError> {
    let user = queries::find_user_by_username(conn, username)?.ok_or(ApiError::NotFound)?;
    load_caller(conn, user.id)
}

/// Tickets in every status, with realistic timelines: filed days ago and
/// worked step by step through the same rules the API applies.
fn sample_tickets(conn: &mut AnyConnection, now: NaiveDateTime) -> Result<(), ApiError> {
    let hours = |h: i64| now - Duration::hours(h);
    let complain = |conn: &mut AnyConnection,
                    reporter: &str,
                    category: &str,
                    title: &str,
                    description: &str,
                    anonymous: bool,
                    at: NaiveDateTime|
     -> Result<i64, ApiError> {
        let caller = who(conn, reporter)?;
        let filing = Filing::parse(FilingInput {
            kind: Kind::Complaint,
            category,
            title,
            description,
            location: None,
            latitude: None,
            longitude: None,
            anonymous: Some(anonymous),
            priority: None,
            on_behalf_of: None,
            respondents: None,
        })?;
        Ok(file(conn, &caller, filing, at, &PinnedCaches::empty(), When::Now)?.0.id)
    };
    let step = |conn: &mut AnyConnection, actor: &str, id: i64, step: Step, at: NaiveDateTime| {
        let user = queries::find_user_by_username(conn, actor)?.ok_or(ApiError::NotFound)?;
        let caller = load_caller(conn, user.id)?;
        apply_step(conn, &caller, TicketId(id), None, step, at).map(drop)
    };
    let note = |s: &str| s.to_owned();

    // Waiting to be signed for at the household.
    complain(
        conn,
        "resident01",
        "noise",
        "楼上装修噪音",
        "1号楼楼上每天早上7点开始装修电钻，影响老人休息。",
        false,
        hours(2),
    )?;
    // Signed for at the household.
    let clutter = complain(
        conn,
        "resident02",
        "sanitation",
        "楼道堆放杂物",
        "1号楼2单元楼道堆满纸箱和旧家具，存在消防隐患。",
        false,
        hours(24),
    )?;
    step(conn, "jm.b1.bldg1.h2", clutter, Step::Accept, hours(20))?;
    // Resolved at the building, waiting for the reporter.
    let leak = complain(
        conn,
        "resident03",
        "leak",
        "卫生间漏水到楼下",
        "楼上卫生间防水层破损，水渗到我家天花板。",
        false,
        hours(72),
    )?;
    step(conn, "jm.b1.bldg1", leak, Step::Accept, hours(70))?;
    step(
        conn,
        "jm.b1.bldg1",
        leak,
        Step::Resolve {
            note: note("已联系楼上住户，防水层已重新施工，三天后复查。"),
        },
        hours(24),
    )?;
    // Closed with a rating.
    let parking = complain(
        conn,
        "resident04",
        "parking",
        "消防通道被占用",
        "小区东门消防通道长期停放私家车。",
        false,
        hours(240),
    )?;
    step(conn, "jm.branch1", parking, Step::Accept, hours(230))?;
    step(
        conn,
        "jm.branch1",
        parking,
        Step::Resolve {
            note: note("已联合物业劝离车辆并设置禁停标识。"),
        },
        hours(200),
    )?;
    step(
        conn,
        "resident04",
        parking,
        Step::Close {
            rating: 5,
            feedback: Some(note("处理及时，非常满意。")),
        },
        hours(180),
    )?;
    // Escalated from the branch to the committee, signed for there.
    let repairs = complain(
        conn,
        "resident05",
        "property_management",
        "物业维修不及时",
        "单元门禁损坏两周，物业一直未修。",
        false,
        hours(144),
    )?;
    step(conn, "jm.branch1", repairs, Step::Accept, hours(140))?;
    step(
        conn,
        "jm.branch1",
        repairs,
        Step::Escalate {
            reason: note("物业公司不配合，需社区协调。"),
        },
        hours(120),
    )?;
    step(conn, "jm.committee", repairs, Step::Accept, hours(100))?;
    // Rejected, referred, withdrawn.
    let pile = complain(
        conn,
        "resident09",
        "charging_pile",
        "申请安装充电桩",
        "希望在地下车库安装电动汽车充电桩。",
        false,
        hours(288),
    )?;
    step(
        conn,
        "jm.branch2",
        pile,
        Step::Reject {
            reason: note("小区电力容量不足，已登记需求，待电网扩容后统一安装。"),
        },
        hours(260),
    )?;
    let meals = complain(
        conn,
        "resident10",
        "elder_care",
        "老人助餐服务",
        "独居老人希望社区提供午餐配送。",
        false,
        hours(360),
    )?;
    step(conn, "jm.committee", meals, Step::Accept, hours(350))?;
    step(
        conn,
        "jm.committee",
        meals,
        Step::Refer {
            target: note("区民政局养老服务中心"),
            note: Some(note("已转助餐服务点对接。")),
        },
        hours(340),
    )?;
    let dancing = complain(
        conn,
        "resident11",
        "noise",
        "广场舞音响太响",
        "晚上八点后广场舞音响声音过大。",
        false,
        hours(48),
    )?;
    step(
        conn,
        "resident11",
        dancing,
        Step::Withdraw {
            reason: note("已与领队沟通，音量已调小。"),
        },
        hours(30),
    )?;
    // A duplicate merged into its primary.
    let again = complain(
        conn,
        "resident20",
        "sanitation",
        "楼道纸箱没人清理",
        "1号楼楼道里的纸箱还在。",
        false,
        hours(10),
    )?;
    step(
        conn,
        "jm.committee",
        again,
        Step::Merge {
            into: TicketId(clutter),
            note: Some(note("与楼道堆物投诉为同一问题。")),
        },
        hours(8),
    )?;
    // Resolved, then reopened by the reporter: overdue to be signed for again.
    let lamp = complain(
        conn,
        "resident13",
        "public_facilities",
        "路灯损坏",
        "3号楼前路灯不亮，晚上很黑。",
        false,
        hours(216),
    )?;
    step(conn, "jm.b3.bldg1", lamp, Step::Accept, hours(214))?;
    step(
        conn,
        "jm.b3.bldg1",
        lamp,
        Step::Resolve {
            note: note("已报修更换灯泡。"),
        },
        hours(200),
    )?;
    step(
        conn,
        "resident13",
        lamp,
        Step::Reopen {
            reason: note("换了灯泡还是不亮，可能是线路问题。"),
        },
        hours(150),
    )?;
    // A safety hazard nobody at the committee signed for in time: overdue.
    complain(
        conn,
        "resident15",
        "safety_hazard",
        "楼道电线老化",
        "3号楼楼道电线外皮破损，有火灾隐患。",
        false,
        hours(10),
    )?;
    // Anonymous, waiting at the building.
    complain(
        conn,
        "resident08",
        "ebike_safety",
        "楼道里给电动车充电",
        "有住户把电动车推进楼道飞线充电。",
        true,
        hours(1),
    )?;

    // A neighbour dispute between two residents, being handled at the building.
    let applicant = who(conn, "resident06")?;
    let respondent = queries::find_user_by_username(conn, "resident07")?.ok_or(ApiError::NotFound)?;
    let filing = Filing::parse(FilingInput {
        kind: Kind::Dispute,
        category: "neighbour_dispute",
        title: "阳台漏水纠纷",
        description: "楼上阳台洗衣机排水漏到我家阳台，多次协商未果。",
        location: None,
        latitude: None,
        longitude: None,
        anonymous: None,
        priority: None,
        on_behalf_of: None,
        respondents: Some(&[PartyInput {
            user_id: Some(UserId(respondent.id)),
            name: None,
            phone: None,
        }]),
    })?;
    let dispute = file(conn, &applicant, filing, hours(96), &PinnedCaches::empty(), When::Now)?
        .0
        .id;
    step(conn, "jm.b1.bldg2", dispute, Step::Accept, hours(90))?;
    // The building asked for more time; the branch agreed.
    let building_leader = who(conn, "jm.b1.bldg2")?;
    let asked = crate::service::extensions::request_extension(
        conn,
        &building_leader,
        dispute,
        48,
        note("双方约定下周再调解一次。"),
        hours(80),
    )?;
    let secretary = who(conn, "jm.branch1")?;
    crate::service::extensions::decide_extension(
        conn,
        &secretary,
        asked.id,
        Decision::Approve,
        Some(note("同意延期两天。")),
        hours(70),
    )?;
    // Dispatched from the branch to a building.
    let owners = who(conn, "resident14")?;
    let filing = Filing::parse(FilingInput {
        kind: Kind::Dispute,
        category: "owners_dispute",
        title: "业主群里的矛盾",
        description: "关于公共区域停车收费，业主之间发生争执。",
        location: None,
        latitude: None,
        longitude: None,
        anonymous: None,
        priority: None,
        on_behalf_of: None,
        respondents: Some(&[PartyInput {
            user_id: None,
            name: Some("业委会代表张先生"),
            phone: Some("13900001234"),
        }]),
    })?;
    let owners_dispute = file(conn, &owners, filing, hours(30), &PinnedCaches::empty(), When::Now)?
        .0
        .id;
    let building = queries::list_units(
        conn,
        &queries::UnitFilter {
            parent_id: None,
            level: None,
            q: Some("JM-B3-02"),
            households: queries::Households::All,
            after_id: None,
            limit: 2,
        },
    )?
    .into_iter()
    .find(|u| u.code.as_deref() == Some("JM-B3-02"))
    .ok_or(ApiError::NotFound)?;
    step(
        conn,
        "jm.branch3",
        owners_dispute,
        Step::Dispatch {
            unit_id: UnitId(building.id),
            note: Some(note("请楼栋先行调解。")),
        },
        hours(20),
    )?;
    mediated_dispute(conn, &hours)?;
    Ok(())
}

/// A neighbour dispute mediated at the building over two sessions, settled
/// under an agreement, confirmed by the applicant; its 30-day follow-up
/// (履行回访) is now due.
fn mediated_dispute(conn: &mut AnyConnection, hours: &dyn Fn(i64) -> NaiveDateTime) -> Result<(), ApiError> {
    let day = |d: i64| hours(d * 24);
    let applicant = who(conn, "resident16")?;
    let respondent = queries::find_user_by_username(conn, "resident17")?.ok_or(ApiError::NotFound)?;
    let filing = Filing::parse(FilingInput {
        kind: Kind::Dispute,
        category: "neighbour_dispute",
        title: "楼上深夜噪音纠纷",
        description: "楼上住户经常深夜搬动家具、孩子跑跳，多次敲门沟通无果，双方发生口角。",
        location: Some("2号楼"),
        latitude: None,
        longitude: None,
        anonymous: None,
        priority: None,
        on_behalf_of: None,
        respondents: Some(&[PartyInput {
            user_id: Some(UserId(respondent.id)),
            name: None,
            phone: None,
        }]),
    })?;
    let id = file(conn, &applicant, filing, day(40), &PinnedCaches::empty(), When::Now)?
        .0
        .id;
    let leader = who(conn, "jm.b3.bldg2")?;
    apply_step(
        conn,
        &leader,
        TicketId(id),
        None,
        Step::Accept,
        day(40) + Duration::hours(3),
    )?;
    let mediator = queries::find_user_by_username(conn, "jm.committee")?.ok_or(ApiError::NotFound)?;
    record_session(
        conn,
        &leader,
        id,
        NewSession {
            held_at: day(38),
            mediator_id: leader.id.0,
            summary: "楼栋党小组组长分别上门听取双方意见，被申请人表示孩子白天上学，晚上活动较多，同意注意。".into(),
            outcome: None,
        },
        day(38),
    )?;
    record_session(
        conn,
        &leader,
        id,
        NewSession {
            held_at: day(36),
            mediator_id: mediator.id,
            summary: "社区调解员主持，双方到场。约定晚十点后不搬动家具，楼上铺设地垫，楼下不再敲击管道。".into(),
            outcome: Some(MediationOutcome::Settled),
        },
        day(36),
    )?;
    save_agreement(
        conn,
        &leader,
        id,
        "一、被申请人于两周内在客厅和儿童房铺设隔音地垫；二、每晚22:00后不搬动家具、不在室内跑跳；\
         三、申请人不再以敲击管道等方式表达不满；四、双方如有问题先联系楼栋党小组组长协调。"
            .into(),
        day(22),
        day(36),
    )?;
    apply_step(
        conn,
        &leader,
        TicketId(id),
        None,
        Step::Resolve {
            note: "调解成功，双方签订调解协议。".into(),
        },
        day(36) + Duration::hours(1),
    )?;
    apply_step(
        conn,
        &applicant,
        TicketId(id),
        None,
        Step::Close {
            rating: 5,
            feedback: Some("调解员很耐心，问题解决了。".into()),
        },
        day(34),
    )?;
    Ok(())
}
