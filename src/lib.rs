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
pub mod policy;
pub mod state;
pub mod worker;

use actix_web::body::MessageBody;
use actix_web::dev::{ResourceDef, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, get, web};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::state::AppState;

/// The OpenAPI document, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes(App::new().into_utoipa_app()).split_for_parts().1
}

/// The document as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    let mut json = openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

fn routes<T>(app: utoipa_actix_web::UtoipaApp<T>) -> utoipa_actix_web::UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.openapi(api::openapi::ApiDoc::openapi())
        .service(api::health::healthz)
        .service(api::health::readyz)
        .service(scope::scope("/api/v1").configure(api::configure))
}

/// Known paths and their methods, to answer 405 (with `Allow`) rather than
/// 404 when a path exists but not with the method used.
struct RouteTable(Vec<(ResourceDef, Vec<String>)>);

impl RouteTable {
    fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let mut methods = Vec::new();
                for (method, op) in [
                    ("GET", &item.get),
                    ("POST", &item.post),
                    ("PUT", &item.put),
                    ("PATCH", &item.patch),
                    ("DELETE", &item.delete),
                ] {
                    if op.is_some() {
                        methods.push(method.to_owned());
                    }
                }
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Self(routes)
    }

    fn allowed(&self, path: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
}

async fn fallback(req: HttpRequest, routes: web::Data<RouteTable>) -> Result<HttpResponse, ApiError> {
    match routes.allowed(req.path()) {
        Some(methods) => Err(ApiError::MethodNotAllowed {
            allow: methods.to_vec(),
        }),
        None => Err(ApiError::NotFound),
    }
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
    let (app, doc) = routes(App::new().into_utoipa_app()).split_for_parts();
    let route_table = web::Data::new(RouteTable::from_openapi(&doc));
    app.app_data(state)
        .app_data(route_table)
        .app_data(web::PayloadConfig::new(api::BODY_LIMIT))
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
        .default_service(web::to(fallback))
        .service(swagger_redirect)
        .service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", doc))
        .wrap(from_fn(error::localize_problems))
        .wrap(
            DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("X-Frame-Options", "DENY"))
                .add(("Referrer-Policy", "no-referrer")),
        )
        .wrap(tracing_actix_web::TracingLogger::default())
}
