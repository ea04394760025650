//! Provider webhooks: authenticate each provider its own way (before
//! parsing anything else), store deduplicated on the provider's event
//! identity, enqueue, answer 2xx. Nothing else happens in the request: the
//! worker applies the event (and asks the provider to confirm unsigned
//! payment hints). A bad credential is 401 and nothing is stored.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use haat_domain::checkout::payments::{self, Gateway};
use haat_domain::integrations::providers::{self, bkash, pathao, redx, sslcommerz, steadfast};
use haat_domain::integrations::webhooks::{self, Channel, EventView};
use haat_domain::money::DecimalText;
use serde::{Deserialize, Serialize};
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, Path, Query, RawBody};
use crate::routes::{ListOf, Page, Routes, page_of, uuid_cursor};

/// Webhook routes, and the admins' view of what arrived.
pub fn router() -> Routes {
    Routes::new()
        .routes(routes!(bkash_callback))
        .routes(routes!(payment_event))
        .routes(routes!(courier_event))
        .routes(routes!(list))
}

/// The `generic` provider's event (Standard Webhooks: signed with the
/// `webhook-id`, `webhook-timestamp` and `webhook-signature` headers).
/// Documented only: the body is authenticated before it is parsed, and
/// the other providers send their own formats (PROVIDERS.md).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct GenericEvent {
    /// `payment.succeeded|failed|refunded` or
    /// `delivery.shipped|delivered|partially_delivered|returned|cancelled`.
    #[schema(rename = "type")]
    kind: String,
    /// What it is about.
    data: GenericEventData,
}

/// The `data` of a generic event.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct GenericEventData {
    /// Our order's `invoice_no`.
    invoice_no: String,
    /// A payment's amount (it must be the order's total to apply).
    #[schema(value_type = Option<DecimalText>)]
    amount: Option<String>,
    /// A payment's currency.
    currency: Option<String>,
    /// The gateway's transaction id.
    transaction_id: Option<String>,
    /// A partial refund's lines.
    lines: Option<Vec<haat_domain::orders::reversals::LineUnits>>,
    /// The courier's tracking id.
    tracking_id: Option<String>,
    /// What the courier collected on delivery (cod).
    #[schema(value_type = Option<DecimalText>)]
    collected_amount: Option<String>,
}

/// What a webhook is answered (Steadfast's own format adds `message`).
#[derive(Serialize, utoipa::ToSchema)]
struct Ack {
    /// `accepted` (`success` for Steadfast).
    status: &'static str,
    /// Steadfast's `Webhook received`.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
}

fn ack(status: StatusCode, body: Ack) -> Response {
    (status, Json(body)).into_response()
}

fn accepted() -> Response {
    ack(StatusCode::OK, Ack { status: "accepted", message: None })
}

/// A payment provider's event: `generic` (Standard Webhooks), `sslcommerz`
/// (IPN). Each authenticates its own way (PROVIDERS.md).
#[utoipa::path(post, path = "/v1/webhooks/payments/{provider}", tag = "webhooks",
    params(("provider" = String, Path, description = "`generic` or `sslcommerz`")),
    request_body(content = GenericEvent,
        description = "The generic provider's event; SSLCommerz posts its own IPN form (PROVIDERS.md)",
        content_type = "application/json"),
    responses((status = 200, description = "Stored (or a duplicate: changes nothing)", body = Ack)))]
async fn payment_event(
    state: State<AppState>,
    Path(provider): Path<String>,
    query: RawQuery,
    headers: HeaderMap,
    body: RawBody,
) -> ApiResult<Response> {
    receive(state, "payments", provider, query, headers, body).await
}

/// A courier's event: `generic`, `steadfast`, `pathao` (202), `redx`.
#[utoipa::path(post, path = "/v1/webhooks/couriers/{provider}", tag = "webhooks",
    params(("provider" = String, Path, description = "`generic`, `steadfast`, `pathao` or `redx`")),
    request_body(content = GenericEvent,
        description = "The generic provider's event; each courier posts its own format (PROVIDERS.md)",
        content_type = "application/json"),
    responses(
        (status = 200, description = "Stored (or a duplicate: changes nothing)", body = Ack),
        (status = 202, description = "Pathao: stored, or its integration handshake answered", body = Ack)))]
async fn courier_event(
    state: State<AppState>,
    Path(provider): Path<String>,
    query: RawQuery,
    headers: HeaderMap,
    body: RawBody,
) -> ApiResult<Response> {
    receive(state, "couriers", provider, query, headers, body).await
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
    channel: &str,
    provider: String,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let result = authenticate_and_store(&state, channel, &provider, query, &headers, &body).await;
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
            Ok(ack(StatusCode::OK, Ack { status: "success", message: Some("Webhook received") }))
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
        let mut res = ack(StatusCode::ACCEPTED, Ack { status: "accepted", message: None });
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
    Ok(ack(StatusCode::ACCEPTED, Ack { status: "accepted", message: None }))
}

/// bKash's browser callback carries no signature: it is stored as a hint
/// and the worker asks bKash (execute / payment status) what happened.
#[utoipa::path(method(get, post), path = "/v1/webhooks/payments/bkash", tag = "webhooks",
    params(
        ("paymentID" = String, Query, description = "bKash's payment id"),
        ("status" = String, Query, description = "`success`, `failure` or `cancel` (not trusted: bKash is asked)")),
    responses((status = 200, description = "Stored as a hint (or a duplicate)", body = Ack),
              (status = 303, description = "Stored; the buyer is sent back to the storefront's `return_url` of the payment session haat opened")))]
async fn bkash_callback(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let callback = bkash::parse_callback(query.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "paymentID", e))?;
    let mut tx = state.pool.begin().await?;
    let fresh = webhooks::store_bkash_hint(&mut tx, &callback).await?;
    let back_to = payments::return_url_of(&mut tx, Gateway::Bkash, &callback.payment_id).await?;
    tx.commit().await?;
    tracing::info!(provider = "bkash", payment_id = callback.payment_id, fresh, "payment hint accepted");
    count_stored("bkash", fresh);
    // The buyer's browser came here from bKash's page: a session haat
    // opened sends it back to the storefront, which reads the order.
    Ok(match back_to {
        Some(url) => axum::response::Redirect::to(&url).into_response(),
        None => accepted(),
    })
}

/// `?provider=&outcome=` of the webhook event list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EventFilter {
    /// `generic`, `sslcommerz`, `bkash`, `steadfast`, `pathao` or `redx`.
    provider: Option<String>,
    /// What applying it did (`applied`, `duplicate`, `flagged`, `unknown`, …).
    outcome: Option<String>,
}

/// `GET /v1/admin/webhook-events?provider=&outcome=`: what providers sent
/// and what it did — unknown statuses and flagged payments included.
#[utoipa::path(get, path = "/v1/admin/webhook-events", tag = "webhooks", params(EventFilter, Page),
    responses((status = 200, description = "A page of stored events, newest first", body = ListOf<EventView>)))]
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
