//! Loyalty: a member's tier, points and their expiry dates; admins may run
//! the points expiry now (the same job the daily schedule enqueues).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::jobs::ExpirePoints;
use haat_domain::rewards::loyalty::Standing;
use haat_domain::{network::members, rewards::loyalty};
use serde_json::Value;

use super::{Queued, Routes};
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, PathId};
use crate::idem::{self, PostRequest};
use haat_domain::ids::{MemberId, TypedId};
use utoipa_axum::routes;

/// Loyalty routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(standing)).routes(routes!(expire))
}

/// A member's loyalty standing (a member key: its own only).
#[utoipa::path(get, path = "/v1/members/{id}/loyalty", tag = "loyalty",
    params(("id" = MemberId, Path, description = "The member")),
    responses((status = 200, description = "Tier, points balance and the lots that expire next", body = Standing)))]
async fn standing(State(state): State<AppState>, auth: Auth, PathId(id): PathId<MemberId>) -> ApiResult<Json<Value>> {
    let id = id.uuid();
    auth.require_member_access(id, "member")?;
    let mut conn = state.pool.acquire().await?;
    members::get(&mut conn, id).await?;
    Ok(Json(to_json(&loyalty::standing(&mut conn, id, chrono::Utc::now()).await?)?))
}

/// Runs the points expiry now (admin).
#[utoipa::path(post, path = "/v1/admin/loyalty/expire", tag = "loyalty",
    responses((status = 202, description = "The points expiry job is queued; `GET /v1/admin/jobs/{job_id}` shows what it did", body = Queued)))]
async fn expire(State(state): State<AppState>, auth: Auth, post: PostRequest) -> ApiResult<Response> {
    auth.require_admin()?;
    let job = ExpirePoints { tick: chrono::Utc::now().timestamp_millis() };
    idem::post(&state, &auth, &post, &[], move |tx| {
        async move { Ok((StatusCode::ACCEPTED, super::enqueue_and_answer(tx, &job).await?)) }.boxed()
    })
    .await
}
