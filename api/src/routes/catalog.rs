//! Catalog: admins write products, any key reads them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::catalog::products::{self, Product, ProductInput};
use serde_json::Value;

use super::{ListOf, Page, Routes, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, PathId, Query, RawBody, parse_json};
use crate::idem::{self, PostRequest};
use haat_domain::ids::{ProductId, TypedId};
use utoipa_axum::routes;

/// Catalog routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(create)).routes(routes!(update)).routes(routes!(list)).routes(routes!(show))
}

fn view(p: &Product) -> ApiResult<Value> {
    to_json(p)
}

/// Creates a product (admin).
#[utoipa::path(post, path = "/v1/admin/products", tag = "catalog", request_body = ProductInput,
    responses((status = 201, description = "The product", body = Product)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let input: ProductInput = parse_json(&body)?;
    idem::post(&state, &auth, &post, &body, move |tx| {
        async move { Ok((StatusCode::CREATED, view(&products::create(tx, &input).await?)?)) }.boxed()
    })
    .await
}

/// Changes the fields sent (admin).
#[utoipa::path(patch, path = "/v1/admin/products/{id}", tag = "catalog", request_body = ProductInput,
    params(("id" = ProductId, Path, description = "The product")),
    responses((status = 200, description = "The product as changed", body = Product)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<ProductId>,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let id = id.uuid();
    let input: ProductInput = parse_json(&body)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(view(&products::patch(&mut conn, id, &input).await?)?))
}

/// Lists products (any key).
#[utoipa::path(get, path = "/v1/products", tag = "catalog", params(Page),
    responses((status = 200, description = "A page of products", body = ListOf<Product>)))]
async fn list(State(state): State<AppState>, _auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    let limit = page.limit()?;
    let after = uuid_cursor(&page)?;
    let mut conn = state.pool.acquire().await?;
    let products = products::list(&mut conn, after, limit).await?;
    page_by_id(&products, limit, |p| p.id)
}

/// One product (any key).
#[utoipa::path(get, path = "/v1/products/{id}", tag = "catalog",
    params(("id" = ProductId, Path, description = "The product")),
    responses((status = 200, description = "The product", body = Product)))]
async fn show(State(state): State<AppState>, _auth: Auth, PathId(id): PathId<ProductId>) -> ApiResult<Json<Value>> {
    let id = id.uuid();
    let mut conn = state.pool.acquire().await?;
    Ok(Json(view(&products::get(&mut conn, id).await?)?))
}
