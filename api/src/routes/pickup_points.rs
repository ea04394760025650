//! Pickup points: admins open them for a member operator; anyone with a key
//! lists them (storefronts offer them at checkout).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::catalog::pickup_points::{self, NewPickupPoint, PickupPoint};
use serde_json::Value;

use super::{ListOf, Page, Routes, admin_create, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Query, RawBody};
use crate::idem::PostRequest;
use utoipa_axum::routes;

/// Pickup point routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(create)).routes(routes!(list))
}

/// Opens a pickup point run by a member (admin).
#[utoipa::path(post, path = "/v1/admin/pickup-points", tag = "catalog", request_body = NewPickupPoint,
    responses((status = 201, description = "The pickup point", body = PickupPoint)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    admin_create(&state, &auth, &post, &body, |c, input: &NewPickupPoint| pickup_points::create(c, input).boxed()).await
}

/// Lists pickup points (any key).
#[utoipa::path(get, path = "/v1/pickup-points", tag = "catalog", params(Page),
    responses((status = 200, description = "A page of pickup points", body = ListOf<PickupPoint>)))]
async fn list(State(state): State<AppState>, _auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let items = pickup_points::list(&mut conn, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |i| i.id)
}
