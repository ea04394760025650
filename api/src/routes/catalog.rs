//! Catalog: admins write products, any key reads them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::catalog::products::{self, Product, ProductInput};
use serde_json::{Value, json};

use super::{Page, page_of};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Path, Query, RawBody, parse_id, parse_json};
use crate::idem::{self, PostRequest};

/// Catalog routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/products", post(create))
        .route("/v1/admin/products/{id}", patch(update))
        .route("/v1/products", get(list))
        .route("/v1/products/{id}", get(show))
}

fn view(p: &Product) -> Value {
    json!({
        "id": p.id, "sku": p.sku, "name": p.name, "category": p.category,
        "price": p.price, "pv": p.pv, "bv": p.bv, "stock": p.stock, "active": p.active,
        "commissionable": p.commissionable, "seller_id": p.seller_id,
        "created_at": p.created_at, "updated_at": p.updated_at,
    })
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let input: ProductInput = parse_json(&body)?;
    idem::post(&state, &auth, &post, &body, move |tx| {
        async move { Ok((StatusCode::CREATED, view(&products::create(tx, &input).await?))) }.boxed()
    })
    .await
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let id = parse_id(&id, "product")?;
    let input: ProductInput = parse_json(&body)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(view(&products::patch(&mut conn, id, &input).await?)))
}

async fn list(State(state): State<AppState>, _auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    let limit = page.limit()?;
    let after = page
        .cursor
        .as_deref()
        .map(|c| {
            uuid::Uuid::parse_str(c)
                .map_err(|_| ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "cursor", "is not a cursor we gave"))
        })
        .transpose()?;
    let mut conn = state.pool.acquire().await?;
    let products = products::list(&mut conn, after, limit).await?;
    let last = products.last().map(|p| p.id.to_string());
    Ok(Json(page_of(products.iter().map(view).collect(), limit, || last)))
}

async fn show(State(state): State<AppState>, _auth: Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "product")?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(view(&products::get(&mut conn, id).await?)))
}
