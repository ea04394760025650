//! Payment sessions haat opens at a gateway for an order: the storefront
//! (or the buyer, for its own order) asks, haat asks the gateway with no
//! transaction open, and answers where to send the buyer.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use haat_connectors::{CallError, SESSION_TRIES};
use haat_domain::checkout::payments::{self, Attempt, AttemptStatus, Begun, Gateway};
use haat_domain::ids::{OrderId, TypedId};
use haat_domain::orders;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::routes;

use super::Routes;
use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, PathId, RawBody, parse_json};
use crate::idem::{self, Claimed, Written};

/// Payment routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(create, list))
}

/// `POST /v1/orders/{id}/payments`: only where to pay and come back; the
/// amount is always the order's.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewPayment {
    /// `sslcommerz` or `bkash`.
    provider: Gateway,
    /// Where the gateway sends the buyer back to on the storefront.
    return_url: String,
}

/// Opens a payment session for an online order waiting for its payment
/// (storefront, or the buyer for its own order), or answers the one open.
#[utoipa::path(post, path = "/v1/orders/{id}/payments", tag = "orders", request_body = NewPayment,
    params(("id" = OrderId, Path, description = "The order"),
           ("Idempotency-Key" = String, Header, description = "Required: the same key and body answer the first response again")),
    responses((status = 201, description = "The attempt, open: send the buyer to `redirect_url`", body = Attempt),
              (status = 502, description = "The gateway refused the session or answered nonsense"),
              (status = 504, description = "The gateway could not be reached; ask again")))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<OrderId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    idem::key_of(&headers, true)?;
    let order_id = id.uuid();
    let input: NewPayment = parse_json(&body)?;
    payments::check_return_url(&input.return_url)?;
    let owner = orders::owner_of(&mut *state.pool.acquire().await?, order_id).await?;
    auth.require_member_access(owner, "order")?;
    let path = format!("/v1/orders/{order_id}/payments");
    let req = idem::Request { auth: &auth, headers: &headers, route: ("POST", &path), body: &body, required: true };
    match idem::claim(&state, req).await? {
        Claimed::Answered(res) => Ok(res),
        Claimed::First(first) => {
            let pending = match first {
                Some(first) => Some(first.detach().await?),
                None => None,
            };
            let outcome = open(&state, order_id, &input).await;
            match pending {
                Some(pending) => pending.finish(&state, outcome).await,
                None => outcome.map(|(status, body)| crate::error::json_response(status, body)),
            }
        }
    }
}

/// The attempt for the order: the open one, the one another request is
/// opening (awaited), or a new one — the gateway asked between two
/// transactions, never inside one.
async fn open(state: &AppState, order_id: uuid::Uuid, input: &NewPayment) -> ApiResult<Written> {
    let lifetimes = payments::Lifetimes {
        session: chrono::Duration::seconds(i64::from(state.settings.payment_session_seconds)),
        payment_window: chrono::Duration::seconds(i64::from(state.settings.payment_window_seconds)),
    };
    let begun = {
        let mut tx = state.pool.begin().await?;
        let (gateway, url) = (input.provider, &input.return_url);
        let begun = payments::begin(&mut tx, order_id, gateway, url, lifetimes, chrono::Utc::now()).await?;
        tx.commit().await?;
        begun
    };
    let attempt = match begun {
        Begun::Open(attempt) => attempt,
        Begun::BeingCreated(attempt_id) => awaited(state, attempt_id).await?,
        Begun::Create(order) => {
            let asked = state.connectors.open_session(input.provider, &order).await;
            let mut tx = state.pool.begin().await?;
            let now = chrono::Utc::now();
            let attempt = match &asked {
                Ok(session) => payments::opened(&mut tx, order.attempt_id, session, now).await?,
                Err(e) => payments::failed(&mut tx, order.attempt_id, &e.to_string(), now).await?,
            };
            tx.commit().await?;
            if let Err(e) = asked {
                return Err(gateway_error(input.provider, &e));
            }
            attempt
        }
    };
    answer(input.provider, attempt)
}

/// Waits for another request's attempt to be answered by the gateway (as
/// long as that request may ask it), rather than ask the gateway twice.
async fn awaited(state: &AppState, attempt_id: uuid::Uuid) -> ApiResult<Attempt> {
    let longest = state.settings.providers.timeout * SESSION_TRIES + Duration::from_secs(2);
    let until = tokio::time::Instant::now() + longest;
    loop {
        let attempt = payments::get(&mut *state.pool.acquire().await?, attempt_id).await?;
        if attempt.status != AttemptStatus::Creating {
            return Ok(attempt);
        }
        if tokio::time::Instant::now() >= until {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Still opening",
                "the gateway is still being asked for this order's payment session: ask again",
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn answer(gateway: Gateway, attempt: Attempt) -> ApiResult<Written> {
    match attempt.status {
        AttemptStatus::Open => Ok((StatusCode::CREATED, to_json(&attempt)?)),
        AttemptStatus::Failed => {
            Err(gateway_error(gateway, &CallError::Refused(attempt.failure.unwrap_or_else(|| "no session".into()))))
        }
        other => Err(ApiError::field(StatusCode::CONFLICT, "order", format!("its payment attempt is {other}"))),
    }
}

/// A gateway that answered no or nonsense is a 502; one that could not be
/// reached is a 504 (ask again: the key is free and a new attempt is made).
fn gateway_error(gateway: Gateway, e: &CallError) -> ApiError {
    let name = match gateway {
        Gateway::Sslcommerz => "SSLCommerz",
        Gateway::Bkash => "bKash",
    };
    match e {
        CallError::Unreachable(_) => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, "Gateway unreachable", format!("{name} {e}; ask again"))
        }
        _ => ApiError::new(StatusCode::BAD_GATEWAY, "Gateway refused", format!("{name} {e}")),
    }
}

/// An order's payment attempts, oldest first (storefront, admin, or the
/// buyer for its own order).
#[utoipa::path(get, path = "/v1/orders/{id}/payments", tag = "orders", params(("id" = OrderId, Path, description = "The order")),
    responses((status = 200, description = "`{\"items\": [attempt…]}`, oldest first", body = super::ListOf<Attempt>)))]
async fn list(State(state): State<AppState>, auth: Auth, PathId(id): PathId<OrderId>) -> ApiResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let owner = orders::owner_of(&mut conn, id.uuid()).await?;
    auth.require_member_access(owner, "order")?;
    let items = payments::of_order(&mut conn, id.uuid()).await?;
    Ok(Json(json!({ "items": to_json(&items)?, "next_cursor": null })))
}
