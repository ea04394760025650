//! Operations: liveness, readiness, and the audit (DESIGN §10).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use haat_domain::audit as checks;
use haat_platform::db;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::Auth;

/// Ops routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/readyz", get(ready))
        .route("/v1/admin/audit", get(audit))
}

async fn ready(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    match db::migrations_applied(&state.pool).await {
        Ok(true) => Ok(Json(json!({ "status": "ready" }))),
        Ok(false) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Not ready", "migrations pending")),
        Err(_) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Not ready", "database unreachable")),
    }
}

async fn audit(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let mut conn = state.pool.acquire().await?;
    let checks = checks::run(&mut conn).await?;
    let ok = checks.iter().all(|c| c.ok);
    Ok(Json(json!({ "ok": ok, "checks": to_json(&checks)? })))
}
