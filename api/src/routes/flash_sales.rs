//! Flash sales: admins set a product's price for a time window.

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::catalog::flash_sales::{self, NewFlashSale};
use serde_json::Value;

use super::{Page, admin_create, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Query, RawBody};
use crate::idem::PostRequest;

/// Flash sale routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/flash-sales", post(create).get(list))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    admin_create(&state, &auth, &post, &body, |c, input: &NewFlashSale| flash_sales::create(c, input).boxed()).await
}

async fn list(State(state): State<AppState>, auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let items = flash_sales::list(&mut conn, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |i| i.id)
}
