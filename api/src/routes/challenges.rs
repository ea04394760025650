//! Challenges: admins set them and list them; a member (or an admin) reads
//! their progress and badges.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::ids::{MemberId, TypedId};
use haat_domain::network::members;
use haat_domain::rewards::challenges::{self, Challenge, MemberChallenges, NewChallenge};
use serde_json::Value;
use utoipa_axum::routes;

use super::{ListOf, Routes, admin_create, all_of};
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, PathId, RawBody};
use crate::idem::PostRequest;

/// Challenge routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(create, list)).routes(routes!(of_member))
}

/// Creates a challenge (admin): a goal over a window and its reward.
#[utoipa::path(post, path = "/v1/admin/challenges", tag = "loyalty", request_body = NewChallenge,
    responses((status = 201, description = "The challenge", body = Challenge)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let zone = state.settings.time_zone;
    admin_create(&state, &auth, &post, &body, move |c, input: &NewChallenge| challenges::create(c, input, zone).boxed())
        .await
}

/// Lists every challenge, the latest window first (admin).
#[utoipa::path(get, path = "/v1/admin/challenges", tag = "loyalty",
    responses((status = 200, description = "The challenges", body = ListOf<Challenge>)))]
async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let mut conn = state.pool.acquire().await?;
    all_of(&challenges::list(&mut conn).await?)
}

/// A member's challenges with their progress, and their badges (a member
/// key: its own only).
#[utoipa::path(get, path = "/v1/members/{id}/challenges", tag = "loyalty",
    params(("id" = MemberId, Path, description = "The member")),
    responses((status = 200, description = "Live challenges and those they have a standing in, and their badges",
        body = MemberChallenges)))]
async fn of_member(State(state): State<AppState>, auth: Auth, PathId(id): PathId<MemberId>) -> ApiResult<Json<Value>> {
    let id = id.uuid();
    auth.require_member_access(id, "member")?;
    let mut conn = state.pool.acquire().await?;
    members::get(&mut conn, id).await?;
    Ok(Json(to_json(&challenges::of_member(&mut conn, id, chrono::Utc::now()).await?)?))
}
