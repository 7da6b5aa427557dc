//! Deadline rules (时限): hours to sign for and to resolve, per level,
//! overridable per category and priority.

use std::collections::{HashMap, HashSet};

use actix_web::{get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::JsonBody;
use super::problems::{BadRequest, Forbidden, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed};
use crate::auth::Auth;
use crate::db::models::{NewSlaRuleRow, SlaRuleRow};
use crate::db::tickets as db;
use crate::domain::grid::Level;
use crate::domain::ticket::Priority;
use crate::error::{ApiError, Invalid, Validator};
use crate::state::AppState;

pub fn configure(cfg: &mut impl crate::api::Routes) {
    cfg.service(get_sla_policies).service(put_sla_policies);
}

/// One deadline rule. Each key it names must match a ticket arriving at a
/// unit; keys left out match anything. At least one key is named.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaRule {
    /// The level of the unit the ticket arrives at.
    pub level: Option<Level>,
    /// A category `code`.
    #[schema(pattern = r"^[^\u0000]*$")]
    pub category: Option<String>,
    pub priority: Option<Priority>,
    /// Hours to sign for (签收), 1–8760.
    pub accept_hours: i32,
    /// Hours to resolve (办结), 1–8760, not less than `accept_hours`.
    pub resolve_hours: i32,
}

/// Every deadline rule. For a ticket arriving at a unit, the most specific
/// matching rule applies: a rule naming the category outranks one naming the
/// priority, which outranks one naming the level, and naming more keys
/// outranks naming fewer. Without a matching rule, the category's own
/// `accept_hours` and `resolve_hours` apply.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rules": [
    {"level": "household", "accept_hours": 12, "resolve_hours": 48},
    {"priority": "urgent", "accept_hours": 2, "resolve_hours": 24},
    {"category": "noise", "priority": "urgent", "accept_hours": 1, "resolve_hours": 12}
]}))]
pub struct SlaPolicies {
    pub rules: Vec<SlaRule>,
}

fn to_response(rows: Vec<SlaRuleRow>, codes: &HashMap<i64, String>) -> SlaPolicies {
    SlaPolicies {
        rules: rows
            .into_iter()
            .map(|r| SlaRule {
                level: r.level.as_deref().and_then(Level::parse),
                category: r.category_id.and_then(|id| codes.get(&id).cloned()),
                priority: r.priority.as_deref().and_then(Priority::parse),
                accept_hours: r.accept_hours,
                resolve_hours: r.resolve_hours,
            })
            .collect(),
    }
}

fn category_codes(conn: &mut crate::db::AnyConnection) -> Result<HashMap<i64, String>, ApiError> {
    Ok(db::list_categories(conn, true)?
        .into_iter()
        .map(|c| (c.id, c.code))
        .collect())
}

/// The deadline rules
///
/// Every signed-in user may read them: residents and staff see which
/// deadlines apply.
#[utoipa::path(
    tag = "deadlines",
    responses(
        (status = 200, description = "Every deadline rule.", body = SlaPolicies),
        (status = 401, response = Unauthorized),
    ),
    security(("bearer" = []))
)]
#[get("/sla-policies")]
async fn get_sla_policies(state: web::Data<AppState>, _auth: Auth) -> Result<web::Json<SlaPolicies>, ApiError> {
    let policies = state
        .db
        .run(|conn| {
            let codes = category_codes(conn)?;
            Ok(to_response(db::sla_rules(conn)?, &codes))
        })
        .await?;
    Ok(web::Json(policies))
}

/// Replace the deadline rules
///
/// Super-admins only: the rules, like the categories, are shared by every
/// community of the deployment. New rules apply from each ticket's next
/// arrival at a unit.
#[utoipa::path(
    tag = "deadlines",
    request_body(
        content = SlaPolicies,
        description = "Every rule: the list replaces the one in force.",
        example = json!({"rules": [{"category": "（类别编码）", "accept_hours": 24, "resolve_hours": 72}]})
    ),
    responses(
        (status = 200, description = "The rules now in force.", body = SlaPolicies),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(("x-field-codes" = json!({"rules": ["too_many"], "rules[]": ["no_key", "duplicate"], "rules[].category": ["not_found"],
        "rules[].accept_hours": ["out_of_range"], "rules[].resolve_hours": ["out_of_range"]})))
)]
#[put("/sla-policies")]
async fn put_sla_policies(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<SlaPolicies>,
) -> Result<web::Json<SlaPolicies>, ApiError> {
    if !auth.caller.is_superadmin() {
        return Err(ApiError::Forbidden);
    }
    let rules = body.0.rules;
    let now = state.clock.now_naive();
    let policies = state
        .db
        .write(move |conn| {
            let codes = category_codes(conn)?;
            let ids: HashMap<&str, i64> = codes.iter().map(|(id, code)| (code.as_str(), *id)).collect();
            let mut v = Validator::default();
            if rules.len() > 500 {
                v.push(
                    "rules",
                    Invalid::new("too_many", "At most 500 rules.", "最多 500 条规则。"),
                );
            }
            let mut keys = HashSet::new();
            let mut rows = Vec::new();
            for (i, rule) in rules.iter().enumerate() {
                let field = |name: &str| format!("rules[{i}].{name}");
                let category_id = match &rule.category {
                    Some(code) => match ids.get(code.as_str()) {
                        Some(id) => Some(*id),
                        None => {
                            v.push(
                                &field("category"),
                                Invalid::new("not_found", "No category has this code.", "没有此编码的类别。"),
                            );
                            None
                        }
                    },
                    None => None,
                };
                if rule.level.is_none() && rule.category.is_none() && rule.priority.is_none() {
                    v.push(
                        &format!("rules[{i}]"),
                        Invalid::new(
                            "no_key",
                            "Name a level, a category or a priority.",
                            "请至少指定层级、类别或优先级之一。",
                        ),
                    );
                }
                if !(1..=8760).contains(&rule.accept_hours) {
                    v.push(
                        &field("accept_hours"),
                        Invalid::new("out_of_range", "Between 1 and 8760 hours.", "须在 1 到 8760 小时之间。"),
                    );
                }
                if !(1..=8760).contains(&rule.resolve_hours) || rule.resolve_hours < rule.accept_hours {
                    v.push(
                        &field("resolve_hours"),
                        Invalid::new(
                            "out_of_range",
                            "Between 1 and 8760 hours, and not less than `accept_hours`.",
                            "须在 1 到 8760 小时之间，且不少于签收时限。",
                        ),
                    );
                }
                if !keys.insert((rule.level, rule.category.clone(), rule.priority)) {
                    v.push(
                        &format!("rules[{i}]"),
                        Invalid::new(
                            "duplicate",
                            "Another rule names the same keys.",
                            "与另一条规则的条件相同。",
                        ),
                    );
                }
                rows.push(NewSlaRuleRow {
                    level: rule.level.map(|l| l.as_str().to_owned()),
                    category_id,
                    priority: rule.priority.map(|p| p.as_str().to_owned()),
                    accept_hours: rule.accept_hours,
                    resolve_hours: rule.resolve_hours,
                    created_at: now,
                });
            }
            v.finish()?;
            let stored = db::replace_sla_rules(conn, &rows)?;
            Ok(to_response(stored, &codes))
        })
        .await?;
    // Filings here use the new rules at once; on other replicas within the
    // snapshot's TTL (`db::category_cache`).
    state.caches.deadline_rules.forget();
    Ok(web::Json(policies))
}
