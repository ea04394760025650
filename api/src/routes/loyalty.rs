//! Loyalty: a member's tier, points and their expiry dates; admins may run
//! the points expiry now (the same job the daily schedule enqueues).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use haat_domain::jobs::{self, ExpirePoints};
use haat_domain::{loyalty, members};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, parse_id};

/// Loyalty routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/members/{id}/loyalty", get(standing)).route("/v1/admin/loyalty/expire", post(expire))
}

async fn standing(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "member")?;
    auth.require_member_access(id, "member")?;
    let mut conn = state.pool.acquire().await?;
    members::get(&mut conn, id).await?;
    Ok(Json(to_json(&loyalty::standing(&mut conn, id, chrono::Utc::now()).await?)?))
}

async fn expire(State(state): State<AppState>, auth: Auth) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_admin()?;
    let job = ExpirePoints { tick: chrono::Utc::now().timestamp_millis() };
    let mut tx = state.pool.begin().await?;
    jobs::enqueue(&mut tx, &job, None).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"status": "queued"}))))
}
