//! Parcels haat books with a courier for an order ready to ship (admin or
//! storefront): the request writes the booking and its job; the job calls
//! the courier.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::FutureExt;
use haat_domain::checkout::shipments::{self, Courier, Shipment};
use haat_domain::ids::{OrderId, TypedId};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::routes;

use super::Routes;
use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, PathId, RawBody, parse_json};
use crate::idem;

/// Shipment routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(create, list))
}

/// `POST /v1/orders/{id}/shipments`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewShipment {
    /// `steadfast`, `pathao` or `redx`.
    courier: Courier,
    /// Instructions for the courier (at most 250 characters).
    #[serde(default)]
    note: Option<String>,
}

/// Books an order ready to ship (paid, or cash on delivery) with a courier
/// (admin, storefront): answered at once with the booking; the
/// `book_shipment` job asks the courier, retrying with backoff, and marks
/// the order shipped with its tracking number. Asking again while one is
/// live answers that one: an order is never booked twice.
#[utoipa::path(post, path = "/v1/orders/{id}/shipments", tag = "orders", request_body = NewShipment,
    params(("id" = OrderId, Path, description = "The order"),
           ("Idempotency-Key" = String, Header, description = "Optional: the same key and body answer the first response again")),
    responses((status = 202, description = "The booking (`booking` until the courier answers)", body = Shipment)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<OrderId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_storefront()?;
    let order_id = id.uuid();
    let input: NewShipment = parse_json(&body)?;
    if let Some(note) = &input.note {
        haat_domain::input::bounded(note, 250)
            .map_err(|e| ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "note", e.to_string()))?;
    }
    let source = auth.source();
    let path = format!("/v1/orders/{order_id}/shipments");
    let req = idem::Request { auth: &auth, headers: &headers, route: ("POST", &path), body: &body, required: false };
    idem::run(&state, req, move |tx| {
        async move {
            let note = input.note.as_deref().filter(|n| !n.trim().is_empty());
            let s = shipments::request(tx, order_id, input.courier, note, &source, chrono::Utc::now()).await?;
            Ok((StatusCode::ACCEPTED, to_json(&s)?))
        }
        .boxed()
    })
    .await
}

/// An order's shipments, oldest first (admin, storefront, or the buyer for
/// its own order).
#[utoipa::path(get, path = "/v1/orders/{id}/shipments", tag = "orders", params(("id" = OrderId, Path, description = "The order")),
    responses((status = 200, description = "`{\"items\": [shipment…]}`, oldest first", body = super::ListOf<Shipment>)))]
async fn list(State(state): State<AppState>, auth: Auth, PathId(id): PathId<OrderId>) -> ApiResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let owner = haat_domain::orders::owner_of(&mut conn, id.uuid()).await?;
    auth.require_member_access(owner, "order")?;
    let items = shipments::of_order(&mut conn, id.uuid()).await?;
    Ok(Json(json!({ "items": to_json(&items)?, "next_cursor": null })))
}
