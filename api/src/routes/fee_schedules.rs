//! Marketplace fee schedules (admin): create a version, list, read,
//! activate. A version is never changed; activating one puts it in force
//! for lines sold from then on.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::ids::{FeeScheduleId, TypedId};
use haat_domain::marketplace::fees::{self, FeeSchedule, NewFeeSchedule};
use serde_json::Value;
use utoipa_axum::routes;

use super::{ListOf, Routes, admin_create, all_of};
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, PathId, RawBody};
use crate::idem::{self, PostRequest};

/// Fee schedule routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(create, list)).routes(routes!(show)).routes(routes!(activate))
}

/// Writes a fee schedule version, not yet in force (admin).
#[utoipa::path(post, path = "/v1/admin/fee-schedules", tag = "sellers", request_body = NewFeeSchedule,
    responses((status = 201, description = "The schedule version, not in force", body = FeeSchedule)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    admin_create(&state, &auth, &post, &body, |c, input: &NewFeeSchedule| fees::create(c, input).boxed()).await
}

/// Every fee schedule version, newest first (admin).
#[utoipa::path(get, path = "/v1/admin/fee-schedules", tag = "sellers",
    responses((status = 200, description = "The schedule versions", body = ListOf<FeeSchedule>)))]
async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    all_of(&fees::list(&mut *state.pool.acquire().await?).await?)
}

/// One fee schedule version (admin).
#[utoipa::path(get, path = "/v1/admin/fee-schedules/{id}", tag = "sellers",
    params(("id" = FeeScheduleId, Path, description = "The schedule version")),
    responses((status = 200, description = "The schedule version", body = FeeSchedule)))]
async fn show(State(state): State<AppState>, auth: Auth, PathId(id): PathId<FeeScheduleId>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    Ok(Json(to_json(&fees::get(&mut *state.pool.acquire().await?, id.uuid()).await?)?))
}

/// Puts a fee schedule version in force from now (admin).
#[utoipa::path(post, path = "/v1/admin/fee-schedules/{id}/activate", tag = "sellers",
    params(("id" = FeeScheduleId, Path, description = "The schedule version")),
    responses((status = 200, description = "The schedule version, in force", body = FeeSchedule)))]
async fn activate(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<FeeScheduleId>,
    post: PostRequest,
) -> ApiResult<Response> {
    auth.require_admin()?;
    idem::post(&state, &auth, &post, b"", move |tx| {
        async move {
            let schedule = fees::activate(tx, id.uuid(), chrono::Utc::now()).await?;
            Ok((StatusCode::OK, to_json(&schedule)?))
        }
        .boxed()
    })
    .await
}
