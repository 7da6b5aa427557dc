//! griddesk: the resident request desk of urban residential communities.
//! The library builds the HTTP application; `main.rs` is its command line,
//! and the integration tests use the same builder.

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod generate;
pub mod limits;
pub mod metrics;
pub mod policy;
pub mod service;
pub mod state;
pub mod webhooks;
pub mod worker;

use actix_web::body::MessageBody;
use actix_web::dev::{ResourceDef, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, ResponseError, get, web};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::state::AppState;

/// The OpenAPI document, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::openapi::finish(
        routes(App::new().into_utoipa_app(), api::openapi::ApiDoc::openapi())
            .split_for_parts()
            .1,
    )
}

/// The document as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    let mut json = openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

/// The document as committed in `openapi/openapi.json`, served as it is:
/// a test fails whenever it is not what the handlers generate, so the
/// server never generates it at run time. (Generating it in each HTTP
/// worker cost start-up time and left some 16 MiB of fragments in each
/// worker's heap.)
const DOCUMENT: &str = include_str!("../openapi/openapi.json");

/// What the server reads from the document, once per process: the known
/// routes (405 or 404) and each write's success status (the audit trail).
struct KnownRoutes {
    table: RouteTable,
    success_statuses: web::Data<api::audit::SuccessStatuses>,
}

/// The parts of the document read at run time.
#[derive(serde::Deserialize)]
struct DocumentPaths {
    paths: std::collections::BTreeMap<String, PathItem>,
}

#[derive(serde::Deserialize)]
struct PathItem {
    get: Option<Operation>,
    post: Option<Operation>,
    put: Option<Operation>,
    patch: Option<Operation>,
    delete: Option<Operation>,
}

#[derive(serde::Deserialize)]
struct Operation {
    responses: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
}

impl PathItem {
    fn operations(&self) -> [(actix_web::http::Method, Option<&Operation>); 5] {
        use actix_web::http::Method;
        [
            (Method::GET, self.get.as_ref()),
            (Method::POST, self.post.as_ref()),
            (Method::PUT, self.put.as_ref()),
            (Method::PATCH, self.patch.as_ref()),
            (Method::DELETE, self.delete.as_ref()),
        ]
    }
}

fn known_routes() -> &'static KnownRoutes {
    static ROUTES: std::sync::OnceLock<KnownRoutes> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| {
        let paths = serde_json::from_str::<DocumentPaths>(DOCUMENT)
            .map(|d| d.paths)
            .unwrap_or_default();
        let mut table = Vec::new();
        let mut statuses = Vec::new();
        for (path, item) in &paths {
            let mut methods = Vec::new();
            for (method, operation) in item.operations() {
                let Some(operation) = operation else { continue };
                methods.push(method.to_string());
                let statuses_of = operation.responses.keys().filter_map(|s| s.parse::<u16>().ok());
                statuses.push((path.clone(), method, statuses_of.collect::<Vec<_>>()));
            }
            table.push((ResourceDef::new(path.as_str()), methods));
        }
        KnownRoutes {
            table: RouteTable(table),
            success_statuses: web::Data::new(api::audit::SuccessStatuses::new(statuses)),
        }
    })
}

/// Registers every route on `app` for the document, gathering their
/// operations into `base` (the served application registers them in
/// [`build_app`], without utoipa).
fn routes<T>(app: utoipa_actix_web::UtoipaApp<T>, base: utoipa::openapi::OpenApi) -> utoipa_actix_web::UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.openapi(base)
        .service(api::health::healthz)
        .service(api::health::readyz)
        .service(scope::scope("/api/v1").configure(|cfg| api::configure(cfg)))
}

/// Known paths and their methods, to answer 405 (with `Allow`) rather than
/// 404 when a path exists but not with the method used.
struct RouteTable(Vec<(ResourceDef, Vec<String>)>);

impl RouteTable {
    fn allowed(&self, path: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
}

async fn fallback(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match known_routes().table.allowed(req.path()) {
        Some(methods) => Err(ApiError::MethodNotAllowed {
            allow: methods.to_vec(),
        }),
        None => Err(ApiError::NotFound),
    }
}

const OPENAPI_PATH: &str = "/api-docs/openapi.json";

/// Every answer names its request (`X-Request-Id`, as in the log and the
/// audit trail). API answers hold personal data: no caching, and nothing to
/// render or frame.
async fn api_headers(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let api = req.path().starts_with("/api/");
    let request_id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .and_then(|id| HeaderValue::from_str(&id.to_string()).ok());
    let mut res = next.call(req).await?;
    if let Some(id) = request_id {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), id);
    }
    if api {
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    Ok(res)
}

/// A request from an origin CORS does not allow is refused as a problem
/// document, like every other error.
async fn cors_problems(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let refused = res
        .response()
        .error()
        .is_some_and(|e| e.as_error::<actix_cors::CorsError>().is_some());
    if !refused {
        return Ok(res.map_into_boxed_body());
    }
    let problem = ApiError::BadRequest {
        code: "origin_not_allowed",
        detail: error::Text::new(
            "Web pages from this origin may not call the API.",
            "不允许来自该来源的网页调用本接口。",
        ),
    };
    Ok(res.into_response(problem.error_response()))
}

/// Browsers may call the API from these origins only; with none, from none.
/// Bearer tokens, not cookies, carry the credentials, so credentials mode is
/// never allowed.
fn cors(origins: &[String]) -> actix_cors::Cors {
    use actix_web::http::{Method, header};
    let mut cors = actix_cors::Cors::default()
        .allowed_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::IF_MATCH,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::ETAG,
            // The export's file name.
            header::CONTENT_DISPOSITION,
            header::LOCATION,
            header::RETRY_AFTER,
            header::HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

#[get("/swagger-ui")]
async fn swagger_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/swagger-ui/"))
        .finish()
}

/// Builds the application around its state.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // Registered without utoipa: the document served is the committed one,
    // so nothing is generated here (see `api::Routes`).
    let app = App::new()
        .service(api::health::healthz)
        .service(api::health::readyz)
        .service(web::scope("/api/v1").configure(api::configure));
    let swagger = state.swagger;
    let cors = cors(&state.cors_origins);
    app.app_data(state)
        .app_data(known_routes().success_statuses.clone())
        .app_data(web::PayloadConfig::new(api::BODY_LIMIT))
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
        .default_service(web::to(fallback))
        .configure(move |cfg| {
            if swagger {
                cfg.service(swagger_redirect).service(
                    SwaggerUi::new("/swagger-ui/{_:.*}").config(api::openapi::swagger_ui_config(OPENAPI_PATH)),
                );
            }
            // Without Swagger UI the document stays: it is the manual for
            // app developers.
            cfg.route(
                OPENAPI_PATH,
                web::get().to(|| async { HttpResponse::Ok().content_type("application/json").body(DOCUMENT) }),
            );
        })
        .wrap(from_fn(api::audit::record))
        .wrap(from_fn(auth::session_cache::forget_after_account_writes))
        .wrap(from_fn(api_headers))
        .wrap(cors)
        .wrap(from_fn(cors_problems))
        .wrap(from_fn(error::localize_problems))
        .wrap(
            DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("X-Frame-Options", "DENY"))
                .add(("Referrer-Policy", "no-referrer")),
        )
        .wrap(tracing_actix_web::TracingLogger::<PathOnlySpans>::new())
        .wrap(from_fn(api::unread_body::close_on_unread_body))
        // Outermost: counts every answer as the client gets it.
        .wrap(from_fn(metrics::track_requests))
}

/// The metrics listener's application (`--metrics-bind`): `GET /metrics`
/// in the Prometheus text format and nothing else. It reaches the metrics
/// and the database pool's counts, none of the API's state.
pub fn build_metrics_app(
    metrics: metrics::Metrics,
    db: db::Db,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(metrics::Scrape { metrics, db }))
        .route("/metrics", web::get().to(metrics::scrape))
        .default_service(web::to(HttpResponse::NotFound))
}

/// Request spans as tracing-actix-web builds them, but naming the path
/// without its query string: queries carry search text (names, phone
/// numbers) that must not reach the log.
struct PathOnlySpans;

impl tracing_actix_web::RootSpanBuilder for PathOnlySpans {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let route = request.match_pattern().unwrap_or_else(|| "default".to_owned());
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.path(),
            http.client_ip = %request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: tracing::Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
