//! Coupons: admins create and list them; storefronts name one in an order.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use haat_domain::coupons::{self, NewCoupon};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, RawBody, parse_json};

/// Coupon routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/coupons", post(create).get(list))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_admin()?;
    let input: NewCoupon = parse_json(&body)?;
    let mut tx = state.pool.begin().await?;
    let coupon = coupons::create(&mut tx, &input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(to_json(&coupon)?)))
}

async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let mut conn = state.pool.acquire().await?;
    let items = coupons::list(&mut conn).await?.iter().map(to_json).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}
