//! Orders: place (with a required Idempotency-Key) and read with history.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::orders::reversals;
use haat_domain::orders::{self, NewOrder, Order};
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, Path, RawBody, parse_id, parse_json};
use crate::idem;

/// Order routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orders", post(create))
        .route("/v1/orders/{id}", get(show))
        .route("/v1/orders/{id}/returns", post(create_return))
        .route("/v1/admin/orders/{id}/cancel", post(cancel))
}

/// `POST /v1/orders/{id}/returns`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewReturn {
    lines: Vec<reversals::LineUnits>,
    #[serde(default)]
    reason: Option<String>,
}

/// Records a return of some lines (storefront, admin): within the return
/// window, at most the units not yet returned; its effects follow in the
/// `reverse_order` job.
async fn create_return(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_storefront()?;
    let id = parse_id(&id, "order")?;
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
async fn cancel(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = parse_id(&id, "order")?;
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

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
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

async fn show(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "order")?;
    let mut conn = state.pool.acquire().await?;
    let owner = orders::owner_of(&mut conn, id).await?;
    auth.require_member_access(owner, "order")?;
    Ok(Json(view(&orders::get(&mut conn, id).await?)?))
}
