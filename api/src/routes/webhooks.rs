//! Provider webhooks: authenticate, store deduplicated, enqueue, answer 2xx.
//! Nothing else happens in the request: the worker applies the event.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use haat_domain::webhooks::{self, Channel};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::RawBody;

/// Webhook routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/webhooks/{channel}/{provider}", post(receive))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn receive(
    State(state): State<AppState>,
    Path((channel, provider)): Path<(String, String)>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let channel = match channel.as_str() {
        "payments" => Channel::Payments,
        "couriers" => Channel::Couriers,
        _ => return Err(ApiError::not_found("webhook channel")),
    };
    if provider != "generic" {
        return Err(ApiError::not_found("webhook provider (only `generic` is supported so far)"));
    }
    let id = header(&headers, "webhook-id");
    webhooks::verify(
        &state.settings.webhook_secret,
        id,
        header(&headers, "webhook-timestamp"),
        header(&headers, "webhook-signature"),
        &body,
        Utc::now(),
    )
    .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::field(StatusCode::BAD_REQUEST, "body", "must be UTF-8 JSON"))?;
    let dedupe = id.unwrap_or_default();
    let mut tx = state.pool.begin().await?;
    let fresh = webhooks::store(&mut tx, &provider, channel, dedupe, text).await?;
    tx.commit().await?;
    tracing::info!(provider, channel = channel.as_str(), webhook_id = dedupe, fresh, "webhook accepted");
    Ok((StatusCode::OK, Json(json!({ "status": "accepted" }))))
}
