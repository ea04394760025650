//! Pickup points: admins open them for a member operator; anyone with a key
//! lists them (storefronts offer them at checkout).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use haat_domain::pickup_points::{self, NewPickupPoint};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, RawBody, parse_json};

/// Pickup point routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/pickup-points", post(create)).route("/v1/pickup-points", get(list))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_admin()?;
    let input: NewPickupPoint = parse_json(&body)?;
    let mut tx = state.pool.begin().await?;
    let point = pickup_points::create(&mut tx, &input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(to_json(&point)?)))
}

async fn list(State(state): State<AppState>, _auth: Auth) -> ApiResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let items = pickup_points::list(&mut conn).await?.iter().map(to_json).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}
