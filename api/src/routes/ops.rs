//! Operations: liveness, readiness, and the audit (ledger, campaigns).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use haat_domain::{campaigns, db, ledger};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
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
    let (unbalanced, drifted) = ledger::audit(&mut conn).await?;
    let campaigns = campaigns::audit(&mut conn).await?;
    let checks = vec![
        json!({ "name": "journal_entries_sum_to_zero", "ok": unbalanced.is_empty(), "violations": unbalanced }),
        json!({ "name": "cached_balances_match_postings", "ok": drifted.is_empty(), "violations": drifted }),
        json!({ "name": "campaign_payouts_within_terms", "ok": campaigns.is_empty(), "violations": campaigns }),
    ];
    let ok = checks.iter().all(|c| c["ok"] == true);
    Ok(Json(json!({ "ok": ok, "checks": checks })))
}
