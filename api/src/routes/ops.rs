//! Operations: liveness, readiness, and the audit (DESIGN §10).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use haat_domain::audit::{self as checks, Check};
use haat_platform::db;
use serde::Serialize;
use utoipa_axum::routes;

use super::Routes;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Auth;

/// Ops routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(health)).routes(routes!(ready)).routes(routes!(audit))
}

/// What `/healthz` and `/readyz` answer.
#[derive(Serialize, utoipa::ToSchema)]
struct Up {
    /// `ok` (healthz) or `ready` (readyz).
    status: &'static str,
}

/// The audit's answer.
#[derive(Serialize, utoipa::ToSchema)]
struct AuditView {
    /// True when every check passed.
    ok: bool,
    /// Each check with what it found.
    checks: Vec<Check>,
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up", body = Up)))]
async fn health() -> Json<Up> {
    Json(Up { status: "ok" })
}

/// Readiness: the database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = Up),
        (status = 503, description = "Not ready", content_type = "application/problem+json", body = crate::openapi::Problem)))]
async fn ready(State(state): State<AppState>) -> ApiResult<Json<Up>> {
    match db::migrations_applied(&state.pool).await {
        Ok(true) => Ok(Json(Up { status: "ready" })),
        Ok(false) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Not ready", "migrations pending")),
        Err(_) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Not ready", "database unreachable")),
    }
}

/// Runs the books' checks (DESIGN §10) over the whole database (admin).
#[utoipa::path(get, path = "/v1/admin/audit", tag = "operations",
    responses((status = 200, description = "Each check and its violations", body = AuditView)))]
async fn audit(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<AuditView>> {
    auth.require_admin()?;
    let mut conn = state.pool.acquire().await?;
    let checks = checks::run(&mut conn).await?;
    let ok = checks.iter().all(|c| c.ok);
    Ok(Json(AuditView { ok, checks }))
}
