//! Liveness and readiness probes, outside `/api/v1`.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::problems::Unavailable;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct HealthStatus {
    /// Always `ok`.
    pub status: String,
}

/// Liveness
///
/// 200 while the process serves requests.
#[utoipa::path(tag = "health", responses((status = 200, description = "Serving.", body = HealthStatus)), security(()))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok".into() })
}

/// Readiness
///
/// 200 only when the database answers; 503 otherwise.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "The database answers.", body = HealthStatus),
        (status = 503, response = Unavailable),
    ),
    security(())
)]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.db.ping().await {
        return Err(ApiError::Unavailable);
    }
    Ok(HttpResponse::Ok().json(HealthStatus { status: "ok".into() }))
}
