//! Loyalty: a member's tier, points and their expiry dates; admins may run
//! the points expiry now (the same job the daily schedule enqueues).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::jobs::{self, ExpirePoints};
use haat_domain::{network::members, rewards::loyalty};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, Path, parse_id};
use crate::idem::{self, PostRequest};

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

async fn expire(State(state): State<AppState>, auth: Auth, post: PostRequest) -> ApiResult<Response> {
    auth.require_admin()?;
    let job = ExpirePoints { tick: chrono::Utc::now().timestamp_millis() };
    idem::post(&state, &auth, &post, &[], move |tx| {
        async move {
            jobs::enqueue(tx, &job, None).await?;
            Ok((StatusCode::ACCEPTED, json!({"status": "queued"})))
        }
        .boxed()
    })
    .await
}
