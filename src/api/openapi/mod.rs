//! The OpenAPI document: its header, tags, security scheme and shared
//! components. Paths are collected from the handlers by utoipa-actix-web.

use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi};

use super::problems::*;
use crate::error::{FieldProblem, ProblemDetails};

mod codes;
use codes::document_problem_codes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "griddesk",
        description = "社区居民诉求受理平台：居民提交投诉和邻里矛盾纠纷，工单沿社区四级网络流转\
（社区党委 > 小区党支部 > 楼栋党小组 > 党员中心户）。\n\n\
**使用方法：** 点右侧 *Authorize*，在 `oauth2` 一栏填写用户名和密码后点 *Authorize*（client_id 留空）；\
刷新页面后仍保持登录，令牌 15 分钟后过期，过期后重新登录。展开接口，点 *Try it out*，填写工单编号等参数再点 \
*Execute*。预填的请求体只是占位示例：括号里的文字（如“（在此填写办结说明）”）请改成真实内容，编号 0 \
请改成真实编号；可以不带请求体的操作预填 `{}`。\n\n\
**错误** 为 RFC 9457 `application/problem+json`，带固定的 `code`；422 在 `errors` 中逐项列出字段及其 `code`\
（各接口 422 的说明列出每个字段可能的 `code`）。\
发送 `Accept-Language: zh-CN` 得到中文提示。**列表** 用游标分页：把 `next_cursor` 作为 `cursor` 传回。\
**隐私：** 无权查看的对象一律返回 404；手机号除本人、管理员和社区党委工作人员外均打码。\n\n\
---\n\n\
Resident request desk for urban residential communities. Residents file complaints \
and neighbour disputes; each ticket is routed through the community's four-level grid \
(committee 社区党委 > branch 小区党支部 > building 楼栋党小组 > household 党员中心户).\n\n\
**Try it:** press *Authorize*, enter your username and password under `oauth2` and press *Authorize* \
(leave client_id empty); you stay signed in across a reload, and the token lasts 15 minutes. Apps sign \
in with `POST /api/v1/auth/login` and send `Authorization: Bearer …`. Pre-filled request bodies are \
placeholders: replace the bracketed texts and any id 0 before pressing *Execute*; an operation that \
needs no body shows `{}`.\n\n\
**Errors** are RFC 9457 `application/problem+json` with a stable `code`; validation errors (422) list \
each field in `errors`, with a `code` of those the operation's 422 lists for that field. Send \
`Accept-Language: zh-CN` for Chinese messages.\n\n\
**Lists** use cursor pagination: pass `next_cursor` back as `cursor`.\n\n\
**Times** the API writes are RFC 3339 in UTC to the whole second, `2026-11-30T08:15:02Z`, \
in every JSON field: the one form that Swift's `ISO8601DateFormatter` (`JSONDecoder`'s \
`.iso8601`), Kotlin's `Instant.parse` and JavaScript's `Date` all read with their defaults. Fractions are \
cut, never rounded up, so a time sent back as a lower bound (`updated_since`) never skips a change. Times \
you send may carry any offset and fractions. CSV files are read by people: \
their times are local in the deployment's time zone, with the offset, `2026-11-30T16:15:02+08:00`.\n\n\
**Privacy:** anything you may not see answers 404; phone numbers are masked except for the person, \
admins and committee-level staff.",
        license(name = "MIT OR Apache-2.0"),
    ),
    modifiers(&SecurityAddon),
    // Swagger UI shows tags in this order: the daily work first, set-up last.
    tags(
        (name = "tickets", description = "工单：提交、查看、时间线、留言 · Complaints (投诉/诉求) and neighbour disputes (矛盾纠纷): filing, reading, timeline, comments."),
        (name = "lifecycle", description = "工单办理：签收、办结、确认、重办、上报、下派、退回、转出、不予受理、合并、撤回 · What happens to a ticket: sign for, resolve, close, reopen, escalate, dispatch, return, refer, reject, merge, withdraw."),
        (name = "mediation", description = "人民调解：当事人、调解记录、调解协议、履行回访 · People's mediation of disputes: parties, sessions, the agreement and follow-up visits."),
        (name = "deadlines", description = "时限：延期申请与时限规则 · Extension requests, and the deadline rules: hours to sign for and to resolve, per level, category and priority."),
        (name = "statistics", description = "统计：数量、办结层级、速度、超时、评价 · What a committee reports: counts, where tickets are resolved, speed, breaches, ratings."),
        (name = "notifications", description = "通知：工单到达、进展和超时，只发给需要知道的人 · What each person is told: tickets arriving at their units, what happened to their own, missed deadlines."),
        (name = "me", description = "我的账号 · The signed-in caller's own account."),
        (name = "auth", description = "注册、登录、刷新令牌、退出 · Registration, sign-in, token refresh, sign-out."),
        (name = "units", description = "四级网络：社区党委、小区党支部、楼栋党小组、党员中心户 · The four-level grid: committees, branches, buildings, households."),
        (name = "posts", description = "岗位：把工作人员账号挂到网格单位，辖区为该单位及其下级 · Posts tie staff accounts to grid units; a post's scope is the unit's subtree."),
        (name = "users", description = "账号管理（管理员和工作人员） · Accounts, for admins and staff."),
        (name = "categories", description = "诉求类别：进入层级和时限 · The catalogue of complaint and dispute categories, with entry levels and deadlines."),
        (name = "webhooks", description = "回调（webhook）：把社区的通知推送给推送网关、短信网关等外部系统，签名、重试、按工单顺序 · Webhooks: a community's notifications posted to push relays, SMS gateways and other systems, signed, retried, in each ticket's order. The body posted is `WebhookPayload`."),
        (name = "audit", description = "审计日志：工作人员和管理员的写操作及管理员读取个人信息的记录 · The append-only audit trail of staff and admin writes and admin reads of personal data."),
        (name = "health", description = "存活与就绪检查 · Liveness and readiness probes."),
    ),
    components(
        schemas(ProblemDetails, FieldProblem, crate::api::local_time::TimeBound, crate::api::local_time::Month,
            crate::webhooks::WebhookPayload),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, RequestTimeout, PayloadTooLarge,
            UnsupportedMediaType, ValidationFailed, Unavailable, Busy, PreconditionFailed, TransitionConflict, TooManyRequests,
            WrongPassword, SignInFailed, RefreshRefused),
    )
)]
pub struct ApiDoc;

/// Every operation's Chinese name, in the order of the work: Swagger UI
/// lists a tag's operations in the document's order, so `finish` orders the
/// paths by this table and writes each summary as `中文 · English`.
pub const OPERATIONS: &[(&str, &str)] = &[
    // tickets
    ("create_complaint", "提交投诉"),
    ("create_dispute", "提交矛盾纠纷"),
    ("list_tickets", "工单列表"),
    ("export_tickets", "导出工单台账（CSV）"),
    ("get_ticket", "查看工单"),
    ("list_events", "工单时间线"),
    ("list_comments", "工单留言"),
    ("create_comment", "发表留言"),
    ("list_complaints", "投诉列表"),
    ("list_disputes", "矛盾纠纷列表"),
    // lifecycle
    ("accept_ticket", "签收工单"),
    ("resolve_ticket", "办结工单"),
    ("close_ticket", "确认办结并评价"),
    ("reopen_ticket", "不满意重办"),
    ("escalate_ticket", "上报工单"),
    ("dispatch_ticket", "下派工单"),
    ("return_ticket", "退回工单"),
    ("refer_ticket", "转出网格"),
    ("reject_ticket", "不予受理"),
    ("merge_ticket", "合并重复工单"),
    ("withdraw_ticket", "撤回工单"),
    // mediation
    ("list_parties", "纠纷当事人"),
    ("add_party", "添加当事人"),
    ("list_mediation_sessions", "调解记录"),
    ("add_mediation_session", "记录调解"),
    ("get_agreement", "查看调解协议"),
    ("put_agreement", "录入或修改调解协议"),
    ("list_follow_ups", "履行回访列表"),
    ("record_follow_up", "记录履行回访"),
    // deadlines
    ("create_extension_request", "申请延期"),
    ("list_extension_requests", "工单的延期申请"),
    ("approve_extension_request", "批准延期"),
    ("deny_extension_request", "驳回延期"),
    ("get_sla_policies", "查看时限规则"),
    ("put_sla_policies", "替换时限规则"),
    // statistics
    ("get_stats", "辖区统计"),
    ("get_unit_stats", "下级单位统计排名"),
    // notifications
    ("list_notifications", "我的通知"),
    ("count_unread_notifications", "未读通知数"),
    ("stream_notifications", "通知推送（SSE）"),
    ("mark_notifications_read", "标记通知已读"),
    // me
    ("get_me", "我的账号"),
    ("update_me", "修改我的资料"),
    ("change_password", "修改密码"),
    ("register_device", "登记推送设备"),
    ("list_devices", "我的推送设备"),
    ("forget_device", "注销推送设备"),
    // auth
    ("sign_in", "登录"),
    ("issue_oauth_token", "OAuth 2.0 令牌（密码或刷新令牌）"),
    ("refresh_session", "刷新令牌"),
    ("sign_out", "退出登录"),
    ("register_resident", "居民注册"),
    // units
    ("list_units", "网格单位列表"),
    ("get_unit", "查看单位"),
    ("get_unit_tree", "单位及下级"),
    ("create_unit", "新建单位"),
    ("update_unit", "修改单位"),
    ("delete_unit", "删除单位"),
    // posts
    ("list_posts", "单位的岗位"),
    ("create_post", "设置岗位"),
    ("delete_post", "撤销岗位"),
    // users
    ("list_users", "账号列表"),
    ("get_user", "查看账号"),
    ("create_user", "新建工作人员或管理员账号"),
    ("update_user", "修改账号"),
    // categories
    ("list_categories", "类别列表"),
    ("create_category", "新建类别"),
    ("update_category", "修改类别"),
    // audit
    ("list_audit_entries", "审计日志"),
    // webhooks
    ("create_webhook", "登记回调地址"),
    ("list_webhooks", "回调地址列表"),
    ("get_webhook", "查看回调地址"),
    ("update_webhook", "修改、暂停或恢复回调地址"),
    ("delete_webhook", "删除回调地址"),
    ("list_webhook_deliveries", "回调推送记录"),
    ("redeliver_webhook_delivery", "重新推送"),
    // health
    ("healthz", "存活检查"),
    ("readyz", "就绪检查"),
];

/// `中文 · English`, the English without a Chinese term in brackets at its
/// end (`Sign for a ticket (签收)`): the Chinese name now stands in front.
fn bilingual(zh: &str, en: &str) -> String {
    let en = match en.rsplit_once(" (") {
        Some((head, tail)) if tail.ends_with(')') && !tail.is_ascii() => head,
        _ => en,
    };
    format!("{zh} · {en}")
}

/// The operations of one path item, in Swagger UI's order.
fn operations_of(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// Where the OAuth 2.0 password grant is answered (`tokenUrl`).
pub const TOKEN_URL: &str = "/api/v1/auth/token";

/// Registers the two ways to present the same access token: `bearer` for
/// apps that sign in themselves, `oauth2` (password flow) so Swagger UI's
/// *Authorize* dialog asks for a username and password and fetches it.
struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "已有令牌时使用：粘贴 `POST /api/v1/auth/login` 返回的 `access_token`。\n\n\
For apps and scripts: the `access_token` from `POST /api/v1/auth/login`.",
                    ))
                    .build(),
            ),
        );
        let mut oauth2 = OAuth2::new([Flow::Password(Password::new(TOKEN_URL, Scopes::new()))]);
        oauth2.description = Some(
            "**管理员在此登录**：填写用户名和密码，点 *Authorize*；client_id、client_secret 留空。\
令牌 15 分钟后过期（以部署设置为准），刷新页面后仍保持登录；过期后接口返回 401，\
请点 *Authorize* → *Logout* 再重新登录。\n\n\
**Sign in here**: enter your username and password and press *Authorize*; leave client_id and \
client_secret empty. The access token lasts 15 minutes (the deployment's `--access-token-ttl`) and \
survives a page reload; once it has expired operations answer 401: press *Authorize*, *Logout*, and \
sign in again."
                .to_owned(),
        );
        components.add_security_scheme("oauth2", SecurityScheme::OAuth2(oauth2));
    }
}

/// Swagger UI's settings: nothing leaves the deployment (no validator
/// badge, which would send the document's address to validator.swagger.io),
/// and the token survives a reload (kept in the browser's localStorage).
pub fn swagger_ui_config(document: &'static str) -> utoipa_swagger_ui::Config<'static> {
    utoipa_swagger_ui::Config::from(document)
        .validator_url("none")
        .persist_authorization(true)
}

/// The last touches on the generated document. A body that may be left out
/// (`Option<T>` in a handler) is optional, not `null`: utoipa writes it as
/// `oneOf: [T, null]`, and the server reads only an object or nothing.
/// Every operation that takes a body may answer 408: `JsonBody` reads all
/// bodies under one deadline, so the document says it once, here; so does
/// every operation that uses the database, 503.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    // Wherever a bearer token is accepted, the one Swagger UI fetched
    // through the password flow is too: it is the same token.
    let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
    for item in doc.paths.paths.values_mut() {
        for security in operations_of(item).filter_map(|op| op.security.as_mut()) {
            if security.contains(&bearer) {
                security.push(SecurityRequirement::new("oauth2", Vec::<String>::new()));
            }
        }
    }
    // Summaries in both languages; paths in the order of the work.
    let rank = |id: &str| {
        OPERATIONS
            .iter()
            .position(|(op, _)| *op == id)
            .unwrap_or(OPERATIONS.len())
    };
    for item in doc.paths.paths.values_mut() {
        for op in operations_of(item) {
            let zh = OPERATIONS
                .iter()
                .find(|(id, _)| Some(*id) == op.operation_id.as_deref())
                .map(|(_, zh)| *zh);
            if let (Some(zh), Some(en)) = (zh, op.summary.as_deref()) {
                op.summary = Some(bilingual(zh, en));
            }
        }
    }
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for op in operations.into_iter().flatten().filter(|op| op.request_body.is_some()) {
            op.responses
                .responses
                .entry("408".to_owned())
                .or_insert_with(|| RefOr::Ref(utoipa::openapi::Ref::from_response_name("RequestTimeout")));
        }
    }
    // Every operation but `/healthz` uses the database. When it does not
    // answer (no connection within the pool's wait, or the connection lost
    // under the request) the answer is 503 `service_unavailable`: retry.
    for (_, item) in doc
        .paths
        .paths
        .iter_mut()
        .filter(|(path, _)| path.as_str() != "/healthz")
    {
        for op in operations_of(item) {
            op.responses
                .responses
                .entry("503".to_owned())
                .or_insert_with(|| RefOr::Ref(utoipa::openapi::Ref::from_response_name("Unavailable")));
        }
    }
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        let bodies = operations
            .into_iter()
            .flatten()
            .filter_map(|op| op.request_body.as_mut());
        for body in bodies.filter_map(|b| match b {
            RefOr::T(body) => Some(body),
            RefOr::Ref(_) => None,
        }) {
            if body.required == Some(Required::True) {
                continue;
            }
            for content in body.content.values_mut().filter_map(|c| match c {
                RefOr::T(content) => Some(content),
                RefOr::Ref(_) => None,
            }) {
                if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema
                    && let [object @ RefOr::Ref(_), RefOr::T(Schema::Object(null))] = one_of.items.as_slice()
                    && null.schema_type == SchemaType::Type(Type::Null)
                {
                    content.schema = Some(object.clone());
                }
            }
        }
    }
    require_every_answer_key(&mut doc);
    // After the JSON pass below, which does not keep the paths' order.
    let mut doc = document_problem_codes(doc);
    doc.paths.paths.sort_by_cached_key(|_, item| {
        [&item.get, &item.post, &item.put, &item.patch, &item.delete]
            .into_iter()
            .flatten()
            .map(|op| rank(op.operation_id.as_deref().unwrap_or_default()))
            .min()
            .unwrap_or(OPERATIONS.len())
    });
    doc
}

/// Keys of an answer that serde leaves out when empty (`skip_serializing_if`);
/// every other key of every answer is always there, `null` or not.
const MAY_BE_ABSENT: &[(&str, &str)] = &[
    ("UnitResponse", "code"),
    ("UnitResponse", "created_at"),
    ("UnitResponse", "updated_at"),
    ("UnitNode", "code"),
    ("ProblemDetails", "errors"),
    ("ProblemDetails", "current_status"),
    ("ProblemDetails", "allowed_actions"),
    ("ProblemDetails", "current_version"),
    ("OAuthError", "code"),
    ("RegisteredUser", "tokens"),
];

/// utoipa leaves `Option<T>` fields out of `required`. Right for a request
/// body (the key may be left out), wrong for an answer: serde writes `null`,
/// and a typed client should not have to handle a missing key. So every
/// object schema used only by answers lists all its keys as required, except
/// those in [`MAY_BE_ABSENT`]. Schemas that requests use too stay as they are.
fn require_every_answer_key(doc: &mut utoipa::openapi::OpenApi) {
    use std::collections::BTreeSet;

    fn refs(value: &serde_json::Value, found: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(fields) => {
                for (key, item) in fields {
                    match (key.as_str(), item.as_str()) {
                        ("$ref", Some(target)) => {
                            if let Some(name) = target.strip_prefix("#/components/schemas/") {
                                found.insert(name.to_owned());
                            }
                        }
                        _ => refs(item, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
            _ => {}
        }
    }
    fn json(value: &impl serde::Serialize) -> serde_json::Value {
        serde_json::to_value(value).unwrap_or_default()
    }
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let schemas: std::collections::BTreeMap<String, serde_json::Value> = components
        .schemas
        .iter()
        .map(|(name, schema)| (name.clone(), json(schema)))
        .collect();
    let close = |mut names: BTreeSet<String>| {
        let mut todo: Vec<String> = names.iter().cloned().collect();
        while let Some(name) = todo.pop() {
            let mut found = BTreeSet::new();
            if let Some(schema) = schemas.get(&name) {
                refs(schema, &mut found);
            }
            for name in found {
                if names.insert(name.clone()) {
                    todo.push(name);
                }
            }
        }
        names
    };
    let (mut asked, mut answered) = (BTreeSet::new(), BTreeSet::new());
    for item in doc.paths.paths.values() {
        let operations = [&item.get, &item.post, &item.put, &item.patch, &item.delete];
        for op in operations.into_iter().flatten() {
            refs(&json(&op.request_body), &mut asked);
            refs(&json(&op.parameters), &mut asked);
            refs(&json(&op.responses), &mut answered);
        }
    }
    refs(&json(&components.responses), &mut answered);
    let asked = close(asked);
    for name in close(answered).difference(&asked) {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) {
            let missing: Vec<String> = object
                .properties
                .keys()
                .filter(|key| !object.required.contains(key))
                .filter(|key| !MAY_BE_ABSENT.contains(&(name.as_str(), key.as_str())))
                .cloned()
                .collect();
            object.required.extend(missing);
        }
    }
}
