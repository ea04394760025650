//! Provider webhooks: authenticate each provider its own way (before
//! parsing anything else), store deduplicated on the provider's event
//! identity, enqueue, answer 2xx. Nothing else happens in the request: the
//! worker applies the event (and asks the provider to confirm unsigned
//! payment hints). A bad credential is 401 and nothing is stored.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use haat_domain::integrations::providers::{self, bkash, pathao, redx, sslcommerz, steadfast};
use haat_domain::integrations::webhooks::{self, Channel};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, Path, Query, RawBody};
use crate::routes::{Page, page_of, uuid_cursor};

/// Webhook routes, and the admins' view of what arrived.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks/payments/bkash", get(bkash_callback).post(bkash_callback))
        .route("/v1/webhooks/{channel}/{provider}", post(receive))
        .route("/v1/admin/webhook-events", get(list))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn bad_body(detail: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "body", detail)
}

/// Stores an authenticated event (one transaction with its job).
async fn store(state: &AppState, provider: &str, channel: Channel, dedupe: &str, body: &str) -> ApiResult<()> {
    let mut tx = state.pool.begin().await?;
    let fresh = webhooks::store(&mut tx, provider, channel, dedupe, body).await?;
    tx.commit().await?;
    tracing::info!(provider, channel = channel.as_str(), dedupe_key = dedupe, fresh, "webhook accepted");
    count_stored(provider, fresh);
    Ok(())
}

/// Counts a stored (or duplicate) event by provider.
fn count_stored(provider: &str, fresh: bool) {
    let outcome = if fresh { "accepted" } else { "duplicate" };
    metrics::counter!("haat_webhooks_total", "provider" => provider.to_owned(), "outcome" => outcome).increment(1);
}

fn utf8(body: &[u8]) -> ApiResult<&str> {
    std::str::from_utf8(body).map_err(|_| ApiError::field(StatusCode::BAD_REQUEST, "body", "must be UTF-8"))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Receives one provider event; refusals are counted by provider too
/// (stored events are counted by `store`).
async fn receive(
    State(state): State<AppState>,
    Path((channel, provider)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let result = authenticate_and_store(&state, &channel, &provider, query, &headers, &body).await;
    if let Err(e) = &result {
        let outcome = if e.status == StatusCode::UNAUTHORIZED { "unauthorized" } else { "refused" };
        metrics::counter!("haat_webhooks_total", "provider" => provider, "outcome" => outcome).increment(1);
    }
    result
}

async fn authenticate_and_store(
    state: &AppState,
    channel: &str,
    provider: &str,
    query: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let channel = Channel::parse(channel).ok_or_else(|| ApiError::not_found("webhook channel"))?;
    let cfg = &state.settings.providers;
    let accepted = || Json(json!({ "status": "accepted" })).into_response();
    match (channel, provider) {
        (_, "generic") => {
            let id = header(headers, "webhook-id");
            webhooks::verify(
                &state.settings.webhook_secret,
                id,
                header(headers, "webhook-timestamp"),
                header(headers, "webhook-signature"),
                body,
                Utc::now(),
            )
            .map_err(|e| ApiError::unauthorized(e.to_string()))?;
            store(state, "generic", channel, id.unwrap_or_default(), utf8(body)?).await?;
            Ok(accepted())
        }
        (Channel::Payments, "sslcommerz") => {
            let fields = sslcommerz::parse_form(body).map_err(|_| ApiError::unauthorized("not a signed IPN"))?;
            if !sslcommerz::verify(&fields, &cfg.sslcommerz_store_password) {
                return Err(ApiError::unauthorized("verify_sign does not match"));
            }
            let dedupe = sslcommerz::dedupe_key(&fields).map_err(bad_body)?;
            store(state, "sslcommerz", channel, &dedupe, utf8(body)?).await?;
            Ok(accepted())
        }
        (Channel::Couriers, "steadfast") => {
            let token = header(headers, "authorization").and_then(|h| h.strip_prefix("Bearer "));
            if !providers::secret_matches(&cfg.steadfast_token, token) {
                return Err(ApiError::unauthorized("wrong or missing bearer token"));
            }
            let dedupe = steadfast::dedupe_key(body).map_err(bad_body)?;
            store(state, "steadfast", channel, &dedupe, utf8(body)?).await?;
            Ok(Json(json!({ "status": "success", "message": "Webhook received" })).into_response())
        }
        (Channel::Couriers, "pathao") => pathao_event(state, headers, body).await,
        (Channel::Couriers, "redx") => {
            let q: TokenQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
                .map_err(|_| ApiError::unauthorized("missing token"))?;
            if !providers::secret_matches(&cfg.redx_token, q.token.as_deref()) {
                return Err(ApiError::unauthorized("wrong or missing token"));
            }
            let dedupe = redx::dedupe_key(body).map_err(bad_body)?;
            store(state, "redx", channel, &dedupe, utf8(body)?).await?;
            Ok(accepted())
        }
        _ => Err(ApiError::not_found("webhook provider")),
    }
}

/// Pathao: the integration handshake is answered 202 with the integration
/// secret header (a value Pathao itself issued, so answering it reveals
/// nothing); real events must carry the shared secret.
async fn pathao_event(state: &AppState, headers: &HeaderMap, body: &[u8]) -> ApiResult<Response> {
    let cfg = &state.settings.providers;
    if pathao::is_handshake(body) {
        let mut res = (StatusCode::ACCEPTED, Json(json!({ "status": "accepted" }))).into_response();
        let value = HeaderValue::from_str(&cfg.pathao_integration_secret).map_err(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", "bad integration secret")
        })?;
        res.headers_mut().insert(pathao::INTEGRATION_HEADER, value);
        return Ok(res);
    }
    if !providers::secret_matches(&cfg.pathao_webhook_secret, header(headers, pathao::SIGNATURE_HEADER)) {
        return Err(ApiError::unauthorized("wrong or missing X-PATHAO-Signature"));
    }
    let dedupe = pathao::dedupe_key(body).map_err(bad_body)?;
    store(state, "pathao", Channel::Couriers, &dedupe, utf8(body)?).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "accepted" }))).into_response())
}

/// bKash's browser callback carries no signature: it is stored as a hint
/// and the worker asks bKash (execute / payment status) what happened.
async fn bkash_callback(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let callback = bkash::parse_callback(query.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "paymentID", e))?;
    let mut tx = state.pool.begin().await?;
    let fresh = webhooks::store_bkash_hint(&mut tx, &callback).await?;
    tx.commit().await?;
    tracing::info!(provider = "bkash", payment_id = callback.payment_id, fresh, "payment hint accepted");
    count_stored("bkash", fresh);
    Ok(Json(json!({ "status": "accepted" })).into_response())
}

#[derive(Debug, Deserialize)]
struct EventFilter {
    provider: Option<String>,
    outcome: Option<String>,
}

/// `GET /v1/admin/webhook-events?provider=&outcome=`: what providers sent
/// and what it did — unknown statuses and flagged payments included.
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(f): Query<EventFilter>,
    Query(page): Query<Page>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let before = uuid_cursor(&page)?;
    let mut conn = state.pool.acquire().await?;
    let events = webhooks::list(&mut conn, f.provider.as_deref(), f.outcome.as_deref(), before, limit).await?;
    let last = events.last().map(|e| e.id.to_string());
    let items = events.iter().map(to_json).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(page_of(items, limit, || last)))
}
