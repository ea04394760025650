//! Events out (admin): register, list, read, disable, delete an endpoint,
//! rotate its secret, list its deliveries; replay a delivery.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::integrations::events::{self, Delivery, Endpoint, NewEndpoint};
use serde_json::Value;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ListOf, Page, Routes, admin_create, all_of, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, Path, Query, RawBody};
use crate::idem::{self, PostRequest};

/// Event routes.
pub fn router() -> Routes {
    Routes::new()
        .routes(routes!(create, list))
        .routes(routes!(show, delete))
        .routes(routes!(disable))
        .routes(routes!(rotate_secret))
        .routes(routes!(deliveries))
        .routes(routes!(replay))
}

fn id_of(raw: &str, what: &str) -> ApiResult<Uuid> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

/// Registers an endpoint; its signing secret is in this answer (admin).
#[utoipa::path(post, path = "/v1/admin/event-endpoints", tag = "events", request_body = NewEndpoint,
    responses((status = 201, description = "The endpoint, active, with its secret", body = Endpoint)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let allow = state.settings.events_allow_loopback;
    admin_create(&state, &auth, &post, &body, move |c, input: &NewEndpoint| events::create(c, input, allow).boxed())
        .await
}

/// Every endpoint, oldest first, without secrets (admin).
#[utoipa::path(get, path = "/v1/admin/event-endpoints", tag = "events",
    responses((status = 200, description = "The endpoints", body = ListOf<Endpoint>)))]
async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    all_of(&events::list(&mut *state.pool.acquire().await?).await?)
}

/// One endpoint, without its secret (admin).
#[utoipa::path(get, path = "/v1/admin/event-endpoints/{id}", tag = "events",
    params(("id" = Uuid, Path, description = "The endpoint")),
    responses((status = 200, description = "The endpoint", body = Endpoint)))]
async fn show(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let id = id_of(&id, "event endpoint")?;
    Ok(Json(to_json(&events::get(&mut *state.pool.acquire().await?, id).await?)?))
}

/// Deletes an endpoint: nothing more is sent to it (admin).
#[utoipa::path(delete, path = "/v1/admin/event-endpoints/{id}", tag = "events",
    params(("id" = Uuid, Path, description = "The endpoint")),
    responses((status = 204, description = "Deleted")))]
async fn delete(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    auth.require_admin()?;
    let id = id_of(&id, "event endpoint")?;
    events::delete(&mut *state.pool.acquire().await?, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn step(state: &AppState, auth: &Auth, post: &PostRequest, id: &str, rotate: bool) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = id_of(id, "event endpoint")?;
    idem::post(state, auth, post, b"", move |tx| {
        async move {
            let endpoint = if rotate {
                events::rotate_secret(tx, id).await?
            } else {
                events::disable(tx, id, "disabled by an admin").await?
            };
            Ok((StatusCode::OK, to_json(&endpoint)?))
        }
        .boxed()
    })
    .await
}

/// Disables an endpoint: no new delivery is made to it (admin).
#[utoipa::path(post, path = "/v1/admin/event-endpoints/{id}/disable", tag = "events",
    params(("id" = Uuid, Path, description = "The endpoint")),
    responses((status = 200, description = "The endpoint, disabled", body = Endpoint)))]
async fn disable(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    post: PostRequest,
) -> ApiResult<Response> {
    step(&state, &auth, &post, &id, false).await
}

/// Gives an endpoint a new signing secret, in this answer (admin).
#[utoipa::path(post, path = "/v1/admin/event-endpoints/{id}/rotate-secret", tag = "events",
    params(("id" = Uuid, Path, description = "The endpoint")),
    responses((status = 200, description = "The endpoint with its new secret", body = Endpoint)))]
async fn rotate_secret(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    post: PostRequest,
) -> ApiResult<Response> {
    step(&state, &auth, &post, &id, true).await
}

/// An endpoint's deliveries with their attempts, newest first (admin).
#[utoipa::path(get, path = "/v1/admin/event-endpoints/{id}/deliveries", tag = "events",
    params(("id" = Uuid, Path, description = "The endpoint"), Page),
    responses((status = 200, description = "A page of deliveries", body = ListOf<Delivery>)))]
async fn deliveries(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let id = id_of(&id, "event endpoint")?;
    let limit = page.limit()?;
    let items = events::deliveries(&mut *state.pool.acquire().await?, id, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |d| d.id)
}

/// Sends a delivery's event again, under the same `webhook-id` (admin).
#[utoipa::path(post, path = "/v1/admin/event-deliveries/{id}/replay", tag = "events",
    params(("id" = Uuid, Path, description = "The delivery")),
    responses((status = 202, description = "The new delivery, pending", body = Delivery)))]
async fn replay(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    post: PostRequest,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = id_of(&id, "event delivery")?;
    idem::post(&state, &auth, &post, b"", move |tx| {
        async move {
            let again = events::replay(tx, id, chrono::Utc::now()).await?;
            Ok((StatusCode::ACCEPTED, to_json(&again)?))
        }
        .boxed()
    })
    .await
}
