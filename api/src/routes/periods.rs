//! Period close: admins read a closed period and may ask for a close now
//! (the same job the workers' schedule enqueues; it runs once per period).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use haat_domain::jobs::{self, ClosePeriod};
use haat_domain::periods;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::Auth;

/// Period routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/periods/{period}", get(show)).route("/v1/admin/periods/{period}/close", post(close))
}

async fn show(State(state): State<AppState>, auth: Auth, Path(period): Path<String>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(to_json(&periods::get(&mut conn, &period).await?)?))
}

async fn close(
    State(state): State<AppState>,
    auth: Auth,
    Path(period): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_admin()?;
    periods::bounds(&period, state.settings.time_zone)?;
    let job = ClosePeriod { period: period.clone(), tick: chrono::Utc::now().timestamp_millis() };
    let mut tx = state.pool.begin().await?;
    jobs::enqueue(&mut tx, &job, None).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"period": period, "status": "queued"}))))
}
