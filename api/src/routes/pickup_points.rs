//! Pickup points: admins open them for a member operator; anyone with a key
//! lists them (storefronts offer them at checkout).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::catalog::pickup_points::{self, NewPickupPoint};
use serde_json::Value;

use super::{Page, admin_create, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Query, RawBody};
use crate::idem::PostRequest;

/// Pickup point routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/pickup-points", post(create)).route("/v1/pickup-points", get(list))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    admin_create(&state, &auth, &post, &body, |c, input: &NewPickupPoint| pickup_points::create(c, input).boxed()).await
}

async fn list(State(state): State<AppState>, _auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let items = pickup_points::list(&mut conn, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |i| i.id)
}
