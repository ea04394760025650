//! Orders: place (with a required Idempotency-Key) and read with history.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::orders::{self, NewOrder, Order};
use serde_json::Value;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, RawBody, parse_id, parse_json};
use crate::idem;

/// Order routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/orders", post(create)).route("/v1/orders/{id}", get(show))
}

fn view(o: &Order) -> ApiResult<Value> {
    serde_json::to_value(o).map_err(|e| ApiError::from(haat_domain::DomainError::Internal(e.into())))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let input: NewOrder = parse_json(&body)?;
    if let Some(buyer) = input.buyer_id {
        // A member key orders only for itself.
        auth.require_member_access(buyer, "member")?;
    }
    let currency = state.settings.currency.clone();
    let req =
        idem::Request { auth: &auth, headers: &headers, route: ("POST", "/v1/orders"), body: &body, required: true };
    idem::run(&state, req, move |tx| {
        async move {
            let order = orders::place(tx, &input, &currency).await?;
            Ok((StatusCode::CREATED, view(&order)?))
        }
        .boxed()
    })
    .await
}

async fn show(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "order")?;
    let mut conn = state.pool.acquire().await?;
    let buyer = orders::buyer_of(&mut conn, id).await?;
    auth.require_member_access(buyer, "order")?;
    Ok(Json(view(&orders::get(&mut conn, id).await?)?))
}
