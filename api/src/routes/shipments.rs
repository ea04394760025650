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
    Routes::new().routes(routes!(create, list)).routes(routes!(create_batch))
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
    params(("id" = OrderId, Path, description = "The order")),
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
            let s = shipments::request(tx, order_id, input.courier, note, &source, chrono::Utc::now())
                .await?
                .into_shipment();
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

/// `POST /v1/shipments/batches`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewBatch {
    /// `steadfast`, `pathao` or `redx`.
    courier: Courier,
    /// The orders to book, 1 to 5000 (repeats count once).
    order_ids: Vec<uuid::Uuid>,
}

/// Books many orders at once, as a shop does every morning (admin,
/// storefront): one job books them a hundred per transaction, each
/// order's parcel then booked by its own job. Orders not ready, already
/// booked with another courier, or unknown are listed in the job's result
/// (`GET /v1/admin/jobs/{job_id}`) with why.
#[utoipa::path(post, path = "/v1/shipments/batches", tag = "orders", request_body = NewBatch,
    responses((status = 202, description = "Queued: `{\"status\":\"queued\",\"job_id\",\"batch_id\"}`", body = super::Queued)))]
async fn create_batch(
    State(state): State<AppState>,
    auth: Auth,
    req: idem::PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_storefront()?;
    let input: NewBatch = parse_json(&body)?;
    let source = auth.source();
    idem::post(&state, &auth, &req, &body, move |tx| {
        async move {
            let batch_id = shipments::request_many(tx, input.courier, &input.order_ids, &source).await?;
            let job_id = super::id_of_job(tx, &haat_domain::jobs::BookShipments { batch_id }).await?;
            Ok((StatusCode::ACCEPTED, json!({"status": "queued", "job_id": job_id, "batch_id": batch_id})))
        }
        .boxed()
    })
    .await
}
