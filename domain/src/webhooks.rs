//! Provider webhooks: authentication (Standard Webhooks for the `generic`
//! provider), storage deduplicated on the provider's event identity, and
//! the job-side translation of a stored event into an order fact.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::Sha256;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::jobs::{self, ProcessWebhook};
use crate::orders;
use crate::rules::order_state::OrderFact;

/// How far a signed timestamp may be from now, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// The largest webhook-id we store.
const MAX_ID_LEN: usize = 256;

/// A Standard Webhooks signing secret (`whsec_` + base64 of the key bytes).
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>`.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let b64 = s.strip_prefix("whsec_").ok_or("must start with whsec_")?;
        let key = B64.decode(b64).map_err(|_| "must be whsec_ followed by base64")?;
        if key.len() < 16 {
            return Err("the key must be at least 16 bytes");
        }
        Ok(Self(key))
    }

    /// Signs `{id}.{timestamp}.{body}` (what a sender does), as `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", B64.encode(self.mac(id, timestamp, body).finalize().into_bytes()))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// Why a webhook was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A required header is absent or malformed.
    #[error("missing or malformed header {0}")]
    Header(&'static str),
    /// The timestamp is outside the tolerance.
    #[error("webhook-timestamp is more than 5 minutes from now")]
    Stale,
    /// No signature matched.
    #[error("no valid signature")]
    Signature,
}

/// Verifies a Standard Webhooks request. Any one matching `v1` signature is
/// enough (so secrets can rotate); each is length-checked and compared in
/// constant time, so an empty or truncated signature never matches.
pub fn verify(
    secret: &WebhookSecret,
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let id = id.filter(|i| !i.is_empty() && i.len() <= MAX_ID_LEN).ok_or(AuthError::Header("webhook-id"))?;
    let ts: i64 = timestamp.and_then(|t| t.trim().parse().ok()).ok_or(AuthError::Header("webhook-timestamp"))?;
    let signatures = signatures.ok_or(AuthError::Header("webhook-signature"))?;
    if (now.timestamp() - ts).abs() > TOLERANCE_SECS {
        return Err(AuthError::Stale);
    }
    let matched = signatures.split_whitespace().any(|candidate| {
        let Some(b64) = candidate.strip_prefix("v1,") else { return false };
        let Ok(sig) = B64.decode(b64) else { return false };
        sig.len() == 32 && secret.mac(id, ts, body).verify_slice(&sig).is_ok()
    });
    if matched { Ok(()) } else { Err(AuthError::Signature) }
}

/// Which kind of provider posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Payment gateways.
    Payments,
    /// Couriers.
    Couriers,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payments => "payments",
            Self::Couriers => "couriers",
        }
    }
}

/// Stores an authenticated event and enqueues its processing, in the
/// caller's transaction. Returns false for a duplicate (nothing written).
pub async fn store(
    conn: &mut PgConnection,
    provider: &str,
    channel: Channel,
    dedupe_key: &str,
    body: &str,
) -> DomainResult<bool> {
    let id = sqlx::query_scalar!(
        "INSERT INTO webhook_events (id, provider, channel, dedupe_key, body) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (provider, dedupe_key) DO NOTHING RETURNING id",
        Uuid::now_v7(),
        provider,
        channel.as_str(),
        dedupe_key,
        body
    )
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(event_id) => {
            jobs::enqueue(conn, &ProcessWebhook { event_id }, None).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

#[derive(Debug, Deserialize)]
struct GenericEvent {
    #[serde(rename = "type")]
    kind: String,
    data: GenericData,
}

#[derive(Debug, Deserialize)]
struct GenericData {
    invoice_no: String,
    #[serde(default)]
    amount: Option<String>,
    #[serde(default)]
    currency: Option<String>,
}

/// What a generic event asks of its order.
enum Intent {
    Fact(OrderFact),
    /// Known, but handled by a later part of the system; kept, not applied.
    NotYetHandled,
    Unknown,
}

fn intent(channel: &str, kind: &str) -> Intent {
    match (channel, kind) {
        ("payments", "payment.succeeded") => Intent::Fact(OrderFact::Paid),
        ("payments", "payment.failed") => Intent::Fact(OrderFact::PaymentFailed),
        ("payments", "payment.refunded") => Intent::NotYetHandled,
        ("couriers", "delivery.shipped") => Intent::Fact(OrderFact::Shipped),
        ("couriers", "delivery.delivered") => Intent::Fact(OrderFact::Delivered),
        ("couriers", "delivery.partially_delivered" | "delivery.returned" | "delivery.cancelled") => {
            Intent::NotYetHandled
        }
        _ => Intent::Unknown,
    }
}

/// Processes a stored event once: finds its order by `invoice_no`, checks a
/// payment's amount and currency against OUR order, applies the fact, and
/// records the outcome on the event. A processed event is left alone.
pub async fn process(conn: &mut PgConnection, event_id: Uuid, now: DateTime<Utc>) -> DomainResult<String> {
    let ev = sqlx::query!(
        "SELECT provider, channel, body, processed_at, outcome FROM webhook_events WHERE id = $1 FOR UPDATE",
        event_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("webhook event"))?;
    if ev.processed_at.is_some() {
        return Ok(ev.outcome.unwrap_or_default());
    }
    let outcome = decide(conn, &ev.provider, &ev.channel, &ev.body, event_id, now).await?;
    sqlx::query!("UPDATE webhook_events SET processed_at = $2, outcome = $3 WHERE id = $1", event_id, now, outcome)
        .execute(conn)
        .await?;
    Ok(outcome)
}

async fn decide(
    conn: &mut PgConnection,
    provider: &str,
    channel: &str,
    body: &str,
    event_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<String> {
    let Ok(event) = serde_json::from_str::<GenericEvent>(body) else {
        return Ok("unparseable".into());
    };
    let fact = match intent(channel, &event.kind) {
        Intent::Fact(f) => f,
        Intent::NotYetHandled => return Ok(format!("not_handled_yet:{}", event.kind)),
        Intent::Unknown => return Ok(format!("unknown_type:{}", event.kind)),
    };
    let Some(order_id) = orders::id_by_invoice(conn, &event.data.invoice_no).await? else {
        return Ok("unknown_order".into());
    };
    if fact == OrderFact::Paid
        && let Some(problem) = payment_mismatch(conn, order_id, &event.data).await?
    {
        return Ok(problem);
    }
    let source = format!("webhook:{provider}:{event_id}");
    let outcome = orders::apply_fact(conn, order_id, fact, &source, now).await?;
    Ok(outcome.as_str().to_owned())
}

async fn payment_mismatch(conn: &mut PgConnection, order_id: Uuid, data: &GenericData) -> DomainResult<Option<String>> {
    let o = sqlx::query!("SELECT total, currency FROM orders WHERE id = $1", order_id).fetch_one(conn).await?;
    let amount = data.amount.as_deref().and_then(|a| a.parse::<Decimal>().ok());
    if amount != Some(o.total) {
        return Ok(Some("flagged:amount_mismatch".into()));
    }
    if data.currency.as_deref() != Some(o.currency.as_str()) {
        return Ok(Some("flagged:currency_mismatch".into()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> WebhookSecret {
        WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid secret")
    }

    #[test]
    fn a_correct_signature_within_tolerance_is_accepted() {
        let now = Utc::now();
        let sig = secret().sign("msg_1", now.timestamp(), b"{}");
        assert_eq!(
            verify(&secret(), Some("msg_1"), Some(&now.timestamp().to_string()), Some(&sig), b"{}", now),
            Ok(())
        );
    }

    #[test]
    fn any_one_of_several_signatures_is_enough() {
        let now = Utc::now();
        let good = secret().sign("msg_1", now.timestamp(), b"{}");
        let list = format!("v1,AAAA {good}");
        assert!(verify(&secret(), Some("msg_1"), Some(&now.timestamp().to_string()), Some(&list), b"{}", now).is_ok());
    }

    #[test]
    fn an_empty_or_truncated_signature_never_matches() {
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let good = secret().sign("msg_1", now.timestamp(), b"{}");
        for bad in ["v1,", "v1", "", &good[..good.len() - 8]] {
            assert_eq!(verify(&secret(), Some("msg_1"), Some(&ts), Some(bad), b"{}", now), Err(AuthError::Signature));
        }
    }

    #[test]
    fn a_changed_body_or_stale_timestamp_is_refused() {
        let now = Utc::now();
        let sig = secret().sign("msg_1", now.timestamp(), b"{}");
        let ts = now.timestamp().to_string();
        assert_eq!(verify(&secret(), Some("msg_1"), Some(&ts), Some(&sig), b"{ }", now), Err(AuthError::Signature));
        let old = now - chrono::Duration::seconds(TOLERANCE_SECS + 1);
        let sig = secret().sign("msg_1", old.timestamp(), b"{}");
        let ts = old.timestamp().to_string();
        assert_eq!(verify(&secret(), Some("msg_1"), Some(&ts), Some(&sig), b"{}", now), Err(AuthError::Stale));
    }
}
