//! Coupons: admins create and list them; storefronts name one in an order.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::catalog::coupons::{self, Coupon, NewCoupon};
use serde_json::Value;

use utoipa_axum::routes;

use super::{ListOf, Page, Routes, admin_create, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Query, RawBody};
use crate::idem::PostRequest;

/// Coupon routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(create, list))
}

/// Creates a coupon (admin).
#[utoipa::path(post, path = "/v1/admin/coupons", tag = "catalog", request_body = NewCoupon,
    responses((status = 201, description = "The coupon", body = Coupon)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    admin_create(&state, &auth, &post, &body, |c, input: &NewCoupon| coupons::create(c, input).boxed()).await
}

/// Lists coupons, newest first (admin).
#[utoipa::path(get, path = "/v1/admin/coupons", tag = "catalog", params(Page),
    responses((status = 200, description = "A page of coupons", body = ListOf<Coupon>)))]
async fn list(State(state): State<AppState>, auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let items = coupons::list(&mut conn, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |i| i.id)
}
