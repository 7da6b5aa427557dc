//! Filing a ticket: the input parsed into a `Filing` that can only hold
//! acceptable values, the parties a dispute names, and where a resident's
//! tickets start (their serving chain; `ticket::route` picks the unit).

use super::ids::UserId;
use super::people::{Phone, Role, bounded_text, multiline_text};
use super::text::{FieldErrors, Invalid, Validator};
use super::ticket::{Kind, Priority, ServingChain};

/// At most this many respondents on a new dispute.
pub const MAX_RESPONDENTS: usize = 10;

/// A filing as the client sent it (complaint or dispute).
#[derive(Debug, Clone, Copy)]
pub struct FilingInput<'a> {
    pub kind: Kind,
    pub category: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub location: Option<&'a str>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub anonymous: Option<bool>,
    pub priority: Option<Priority>,
    pub on_behalf_of: Option<UserId>,
    /// Disputes only.
    pub respondents: Option<&'a [PartyInput<'a>]>,
}

/// A party as the client named it: an account, or a name and maybe a phone.
#[derive(Debug, Clone, Copy, Default)]
pub struct PartyInput<'a> {
    pub user_id: Option<UserId>,
    pub name: Option<&'a str>,
    pub phone: Option<&'a str>,
}

/// A named party: a resident account, or someone outside the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Respondent {
    Account(UserId),
    Outside { name: String, phone: Option<String> },
}

/// A filing with acceptable values, common to both kinds.
#[derive(Debug, Clone, PartialEq)]
pub struct Filing {
    pub kind: Kind,
    pub category: String,
    pub title: String,
    pub description: String,
    pub location: Option<String>,
    pub coordinates: Option<(f64, f64)>,
    pub anonymous: bool,
    pub priority: Priority,
    pub on_behalf_of: Option<UserId>,
    pub respondents: Vec<Respondent>,
}

impl Filing {
    /// Every field problem at once, or the filing.
    pub fn parse(input: FilingInput<'_>) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let title = v.check("title", bounded_text(input.title, 100));
        let description = v.check("description", multiline_text(input.description, 4000));
        let location = input.location.and_then(|l| v.check("location", bounded_text(l, 200)));
        let coordinates = coordinates(&mut v, input.latitude, input.longitude);
        let anonymous = input.anonymous.unwrap_or(false);
        // The other side must know who applies.
        if input.kind == Kind::Dispute && anonymous {
            v.push(
                "anonymous",
                Invalid::new(
                    "dispute_not_anonymous",
                    "A dispute cannot be anonymous: the other side must know who applies.",
                    "矛盾纠纷不能匿名提交。",
                ),
            );
        }
        let mut respondents = Vec::new();
        if let Some(named) = input.respondents {
            if named.is_empty() || named.len() > MAX_RESPONDENTS {
                v.push(
                    "respondents",
                    Invalid::new("count", "Name 1 to 10 respondents.", "被申请人须为 1 到 10 位。"),
                );
            }
            for (i, r) in named.iter().enumerate() {
                if let Some(party) = parse_party(&mut v, &format!("respondents[{i}]"), r) {
                    respondents.push(party);
                }
            }
        }
        v.finish()?;
        let (Some(title), Some(description)) = (title, description) else {
            // `finish` answered for any field that did not parse.
            return Err(FieldErrors(Vec::new()));
        };
        Ok(Self {
            kind: input.kind,
            category: input.category.trim().to_owned(),
            title,
            description,
            location,
            coordinates,
            anonymous,
            priority: input.priority.unwrap_or_default(),
            on_behalf_of: input.on_behalf_of,
            respondents,
        })
    }
}

/// Both coordinates or neither, each in range.
fn coordinates(v: &mut Validator, latitude: Option<f64>, longitude: Option<f64>) -> Option<(f64, f64)> {
    let both = || Invalid::new("required", "Give both coordinates or neither.", "经纬度须同时提供。");
    match (latitude, longitude) {
        (None, None) => None,
        (Some(lat), Some(lon)) => {
            if !(-90.0..=90.0).contains(&lat) {
                v.push(
                    "latitude",
                    Invalid::new("out_of_range", "Between -90 and 90.", "须在 -90 到 90 之间。"),
                );
            }
            if !(-180.0..=180.0).contains(&lon) {
                v.push(
                    "longitude",
                    Invalid::new("out_of_range", "Between -180 and 180.", "须在 -180 到 180 之间。"),
                );
            }
            Some((lat, lon))
        }
        (Some(_), None) => {
            v.push("longitude", both());
            None
        }
        (None, Some(_)) => {
            v.push("latitude", both());
            None
        }
    }
}

/// A party named in a request: a resident account, or an outside party with
/// a name and, optionally, a phone. Problems are reported under `prefix`
/// (`respondents[2].name`), or bare when `prefix` is empty.
pub fn parse_party(v: &mut Validator, prefix: &str, r: &PartyInput<'_>) -> Option<Respondent> {
    let field = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    match (r.user_id, r.name, r.phone) {
        (Some(user_id), None, None) => Some(Respondent::Account(user_id)),
        (None, Some(name), phone) => {
            let name = v.check(&field("name"), bounded_text(name, 64));
            let phone = match phone {
                Some(p) => v
                    .check(&field("phone"), Phone::parse(p))
                    .map(|p| Some(p.as_str().to_owned())),
                None => Some(None),
            };
            Some(Respondent::Outside {
                name: name?,
                phone: phone?,
            })
        }
        _ => {
            v.push(
                if prefix.is_empty() { "user_id" } else { prefix },
                Invalid::new(
                    "account_or_name",
                    "Give either `user_id`, or `name` (and optionally `phone`).",
                    "请提供 user_id，或提供 name（及可选的 phone）。",
                ),
            );
            None
        }
    }
}

/// Whether an account may be named as a resident party to a dispute of
/// `community`: another resident than the applicant, living in that
/// community. One community's people never appear in another's files; a
/// neighbour whose account is unknown is named as an outside party.
pub fn may_name_resident(
    role: Role,
    account: UserId,
    applicant: UserId,
    home_community: Option<i64>,
    community: i64,
) -> bool {
    role == Role::Resident && account != applicant && home_community == Some(community)
}

/// The units that serve a resident, read off their building's path
/// (`/committee/branch/building/`); `None` for a path of another shape.
pub fn serving_chain(building_path: &str, household: Option<i64>) -> Option<ServingChain> {
    let ids: Vec<i64> = building_path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    match ids.as_slice() {
        [committee, branch, building] => Some(ServingChain {
            committee: *committee,
            branch: *branch,
            building: *building,
            household,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complaint() -> FilingInput<'static> {
        FilingInput {
            kind: Kind::Complaint,
            category: " noise ",
            title: "楼上装修噪音",
            description: "每天早上7点开始装修。\n影响休息。",
            location: None,
            latitude: None,
            longitude: None,
            anonymous: None,
            priority: None,
            on_behalf_of: None,
            respondents: None,
        }
    }

    fn fields(errors: FieldErrors) -> Vec<(String, &'static str)> {
        errors.0.into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn a_complaint_parses_with_defaults() {
        let filing = Filing::parse(complaint()).expect("valid");
        assert_eq!(filing.category, "noise", "the code is trimmed");
        assert_eq!(filing.priority, Priority::Normal);
        assert!(!filing.anonymous);
        assert_eq!(filing.description, "每天早上7点开始装修。\n影响休息。");
        assert!(filing.respondents.is_empty());
    }

    #[test]
    fn every_field_problem_is_reported_at_once() {
        let input = FilingInput {
            title: " ",
            description: "",
            latitude: Some(91.0),
            longitude: Some(-181.0),
            ..complaint()
        };
        let errors = fields(Filing::parse(input).expect_err("invalid"));
        let names: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["title", "description", "latitude", "longitude"]);
    }

    #[test]
    fn coordinates_come_in_pairs() {
        let only_lat = FilingInput {
            latitude: Some(26.0),
            ..complaint()
        };
        assert_eq!(
            fields(Filing::parse(only_lat).expect_err("half")),
            [("longitude".to_owned(), "required")]
        );
        let only_lon = FilingInput {
            longitude: Some(119.0),
            ..complaint()
        };
        assert_eq!(
            fields(Filing::parse(only_lon).expect_err("half")),
            [("latitude".to_owned(), "required")]
        );
        let both = FilingInput {
            latitude: Some(26.07),
            longitude: Some(119.29),
            ..complaint()
        };
        assert_eq!(Filing::parse(both).expect("pair").coordinates, Some((26.07, 119.29)));
    }

    #[test]
    fn a_dispute_names_one_to_ten_respondents_and_is_never_anonymous() {
        let none: [PartyInput<'_>; 0] = [];
        let dispute = FilingInput {
            kind: Kind::Dispute,
            respondents: Some(&none),
            anonymous: Some(true),
            ..complaint()
        };
        assert_eq!(
            fields(Filing::parse(dispute).expect_err("invalid")),
            [
                ("anonymous".to_owned(), "dispute_not_anonymous"),
                ("respondents".to_owned(), "count")
            ]
        );
        let eleven = [PartyInput {
            user_id: Some(UserId(7)),
            ..PartyInput::default()
        }; 11];
        let crowded = FilingInput {
            kind: Kind::Dispute,
            respondents: Some(&eleven),
            ..complaint()
        };
        assert_eq!(
            fields(Filing::parse(crowded).expect_err("too many")),
            [("respondents".to_owned(), "count")]
        );
    }

    #[test]
    fn a_party_is_an_account_or_a_name_with_an_optional_phone() {
        let parties = [
            PartyInput {
                user_id: Some(UserId(7)),
                ..PartyInput::default()
            },
            PartyInput {
                name: Some("楼上住户"),
                phone: Some("13800001234"),
                ..PartyInput::default()
            },
            PartyInput {
                user_id: Some(UserId(8)),
                name: Some("两者都给"),
                ..PartyInput::default()
            },
            PartyInput {
                name: Some("号码不对"),
                phone: Some("12"),
                ..PartyInput::default()
            },
        ];
        let dispute = FilingInput {
            kind: Kind::Dispute,
            respondents: Some(&parties),
            ..complaint()
        };
        let errors = fields(Filing::parse(dispute).expect_err("two bad parties"));
        assert_eq!(errors[0], ("respondents[2]".to_owned(), "account_or_name"));
        assert_eq!(errors[1].0, "respondents[3].phone");
        let mut v = Validator::default();
        assert_eq!(
            parse_party(&mut v, "", &parties[1]),
            Some(Respondent::Outside {
                name: "楼上住户".into(),
                phone: Some("13800001234".into())
            })
        );
        assert_eq!(parse_party(&mut v, "", &parties[2]), None);
        assert_eq!(
            fields(v.finish().expect_err("bare field")),
            [("user_id".to_owned(), "account_or_name")]
        );
    }

    #[test]
    fn a_resident_party_is_another_resident_of_the_dispute_community() {
        let (me, neighbour) = (UserId(1), UserId(2));
        assert!(may_name_resident(Role::Resident, neighbour, me, Some(7), 7));
        assert!(
            !may_name_resident(Role::Resident, me, me, Some(7), 7),
            "not the applicant"
        );
        assert!(
            !may_name_resident(Role::Resident, neighbour, me, Some(8), 7),
            "another community"
        );
        assert!(!may_name_resident(Role::Resident, neighbour, me, None, 7), "no home");
        assert!(
            !may_name_resident(Role::Staff, neighbour, me, Some(7), 7),
            "staff are no party"
        );
    }

    #[test]
    fn the_serving_chain_is_read_off_the_building_path() {
        assert_eq!(
            serving_chain("/1/2/3/", Some(4)),
            Some(ServingChain {
                committee: 1,
                branch: 2,
                building: 3,
                household: Some(4)
            })
        );
        assert_eq!(serving_chain("/1/2/", None), None, "a branch is no home");
        assert_eq!(serving_chain("/1/2/3/4/", None), None, "nor a household");
        assert_eq!(serving_chain("/1/x/3/", None), None);
    }
}
