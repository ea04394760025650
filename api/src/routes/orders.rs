//! Orders: place (with a required Idempotency-Key) and read with history.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::FutureExt;
use haat_domain::orders::reversals::{self, Reversal};
use haat_domain::orders::{self, NewOrder, Order};
use serde::Deserialize;
use serde_json::Value;

use super::Routes;
use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, PathId, RawBody, parse_json};
use crate::idem;
use haat_domain::ids::{OrderId, TypedId};
use utoipa_axum::routes;

/// Order routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(create)).routes(routes!(show)).routes(routes!(create_return)).routes(routes!(cancel))
}

/// `POST /v1/orders/{id}/returns`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewReturn {
    /// The lines and units coming back.
    lines: Vec<reversals::LineUnits>,
    /// Why, in the buyer's words (at most 1000 characters).
    #[serde(default)]
    reason: Option<String>,
}

/// Records a return of some lines (storefront, admin): within the return
/// window, at most the units not yet returned; its effects follow in the
/// `reverse_order` job.
#[utoipa::path(post, path = "/v1/orders/{id}/returns", tag = "orders", request_body = NewReturn, params(("id" = OrderId, Path, description = "The order")),
    responses((status = 201, description = "The return as recorded", body = Reversal)))]
async fn create_return(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<OrderId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_storefront()?;
    let id = id.uuid();
    let input: NewReturn = parse_json(&body)?;
    if input.reason.as_ref().is_some_and(|r| haat_domain::input::chars(r) > 1000) {
        return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "reason", "must be at most 1000 characters"));
    }
    let window = state.settings.return_window_days;
    let source = auth.source();
    let path = format!("/v1/orders/{id}/returns");
    let req = idem::Request { auth: &auth, headers: &headers, route: ("POST", &path), body: &body, required: false };
    idem::run(&state, req, move |tx| {
        async move {
            let req = reversals::Request {
                kind: reversals::Kind::Return,
                lines: Some(input.lines),
                reason: input.reason,
                source,
                external_ref: None,
            };
            let now = chrono::Utc::now();
            match orders::reverse(tx, id, &req, now, window).await? {
                orders::ReversalOutcome::Recorded(rid) => {
                    let order = orders::get(tx, id).await?;
                    let made = order.reversals.iter().find(|r| r.id == rid).map(to_json).transpose()?;
                    Ok((StatusCode::CREATED, made.unwrap_or_default()))
                }
                orders::ReversalOutcome::NothingLeft => {
                    Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "lines", "nothing is left to return"))
                }
            }
        }
        .boxed()
    })
    .await
}

/// Cancels an order that has not shipped (admin).
#[utoipa::path(post, path = "/v1/admin/orders/{id}/cancel", tag = "orders", params(("id" = OrderId, Path, description = "The order")),
    responses((status = 200, description = "The order, cancelled", body = Order)))]
async fn cancel(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<OrderId>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = id.uuid();
    let source = auth.source();
    let path = format!("/v1/admin/orders/{id}/cancel");
    let req = idem::Request { auth: &auth, headers: &headers, route: ("POST", &path), body: b"", required: false };
    idem::run(&state, req, move |tx| {
        async move {
            let order = orders::cancel(tx, id, &source, chrono::Utc::now()).await?;
            Ok((StatusCode::OK, view(&order)?))
        }
        .boxed()
    })
    .await
}

fn view(o: &Order) -> ApiResult<Value> {
    to_json(o)
}

/// Places an order (storefront, or a member for itself).
#[utoipa::path(post, path = "/v1/orders", tag = "orders", request_body = NewOrder,
    params(("Idempotency-Key" = String, Header, description = "Required: the same key and body answer the first response again")),
    responses((status = 201, description = "The order, pending payment (or cod)", body = Order)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    idem::key_of(&headers, true)?;
    let input: NewOrder = parse_json(&body)?;
    match input.buyer_id {
        // A member key orders only for itself.
        Some(buyer) => auth.require_member_access(buyer, "member")?,
        // Guest orders come from storefronts.
        None => auth.require_storefront()?,
    }
    let currency = state.settings.currency.clone();
    let window = chrono::Duration::seconds(i64::from(state.settings.payment_window_seconds));
    let req =
        idem::Request { auth: &auth, headers: &headers, route: ("POST", "/v1/orders"), body: &body, required: true };
    idem::run(&state, req, move |tx| {
        async move {
            let order = orders::place(tx, &input, &currency, window).await?;
            Ok((StatusCode::CREATED, view(&order)?))
        }
        .boxed()
    })
    .await
}

/// One order with its history (a member key: its own only).
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", params(("id" = OrderId, Path, description = "The order")),
    responses((status = 200, description = "The order with its history", body = Order)))]
async fn show(State(state): State<AppState>, auth: Auth, PathId(id): PathId<OrderId>) -> ApiResult<Json<Value>> {
    let id = id.uuid();
    let mut conn = state.pool.acquire().await?;
    let owner = orders::owner_of(&mut conn, id).await?;
    auth.require_member_access(owner, "order")?;
    Ok(Json(view(&orders::get(&mut conn, id).await?)?))
}
