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

#[derive(OpenApi)]
#[openapi(
    info(
        title = "griddesk",
        description = "Resident request desk for urban residential communities. Residents file complaints \
and neighbour disputes; each ticket is routed through the community's four-level grid \
(committee 社区党委 > branch 小区党支部 > building 楼栋党小组 > household 党员中心户).\n\n\
**Try it:** call `POST /api/v1/auth/login`, copy `access_token`, press *Authorize* and paste it.\n\n\
**Errors** are RFC 9457 `application/problem+json` with a stable `code`; validation errors (422) list \
each field in `errors`. Send `Accept-Language: zh-CN` for Chinese messages.\n\n\
**Lists** use cursor pagination: pass `next_cursor` back as `cursor`.\n\n\
**Privacy:** anything you may not see answers 404; phone numbers are masked except for the person, \
admins and committee-level staff.",
        license(name = "MIT OR Apache-2.0"),
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "auth", description = "Registration, sign-in, token refresh, sign-out."),
        (name = "me", description = "The signed-in caller's own account."),
        (name = "units", description = "The four-level grid (四级网络): committees, branches, buildings, households."),
        (name = "posts", description = "Posts tie staff accounts to grid units; a post's scope is the unit's subtree."),
        (name = "users", description = "Accounts, for admins and staff."),
        (name = "categories", description = "The catalogue of complaint and dispute categories, with entry levels and deadlines."),
        (name = "tickets", description = "Complaints (投诉/诉求) and neighbour disputes (矛盾纠纷): filing, reading, timeline, comments."),
        (name = "lifecycle", description = "What happens to a ticket: sign for, resolve, escalate, dispatch, return, reopen, close, withdraw, reject, refer, merge."),
        (name = "deadlines", description = "Deadline rules (时限): hours to sign for and to resolve, per level, category and priority."),
        (name = "mediation", description = "People's mediation of disputes (人民调解): parties, sessions, the agreement (调解协议) and follow-up visits (履行回访)."),
        (name = "statistics", description = "What a committee reports: counts, where tickets are resolved, speed, breaches, ratings."),
        (name = "audit", description = "The append-only audit trail of staff and admin writes and admin reads of personal data."),
        (name = "health", description = "Liveness and readiness probes."),
    ),
    components(
        schemas(ProblemDetails, FieldProblem),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, RequestTimeout, PayloadTooLarge,
            UnsupportedMediaType, ValidationFailed, Unavailable, Busy, PreconditionFailed, TransitionConflict, TooManyRequests,
            WrongPassword),
    )
)]
pub struct ApiDoc;

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
pub fn swagger_ui_config() -> utoipa_swagger_ui::Config<'static> {
    utoipa_swagger_ui::Config::default()
        .validator_url("none")
        .persist_authorization(true)
}

/// The last touches on the generated document. A body that may be left out
/// (`Option<T>` in a handler) is optional, not `null`: utoipa writes it as
/// `oneOf: [T, null]`, and the server reads only an object or nothing.
/// Every operation that takes a body may answer 408: `JsonBody` reads all
/// bodies under one deadline, so the document says it once, here.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    // Wherever a bearer token is accepted, the one Swagger UI fetched
    // through the password flow is too: it is the same token.
    let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for security in operations.into_iter().flatten().filter_map(|op| op.security.as_mut()) {
            if security.contains(&bearer) {
                security.push(SecurityRequirement::new("oauth2", Vec::<String>::new()));
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
    doc
}
