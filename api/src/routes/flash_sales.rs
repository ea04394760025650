//! Flash sales: admins set a product's price for a time window.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::catalog::flash_sales::{self, FlashSale, NewFlashSale};
use serde_json::Value;

use super::{ListOf, Page, Routes, admin_create, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Query, RawBody};
use crate::idem::PostRequest;
use utoipa_axum::routes;

/// Flash sale routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(create, list))
}

/// Sets a product's price for a window (admin).
#[utoipa::path(post, path = "/v1/admin/flash-sales", tag = "catalog", request_body = NewFlashSale,
    responses((status = 201, description = "The flash sale", body = FlashSale)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    admin_create(&state, &auth, &post, &body, |c, input: &NewFlashSale| flash_sales::create(c, input).boxed()).await
}

/// Lists flash sales (admin).
#[utoipa::path(get, path = "/v1/admin/flash-sales", tag = "catalog", params(Page),
    responses((status = 200, description = "A page of flash sales, newest first", body = ListOf<FlashSale>)))]
async fn list(State(state): State<AppState>, auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let items = flash_sales::list(&mut conn, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |i| i.id)
}
