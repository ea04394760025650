//! Provider webhooks: authentication (Standard Webhooks for the `generic`
//! provider), storage deduplicated on the provider's event identity, and
//! the job-side translation of a stored event into an order fact.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::integrations::providers::{self, Confirmation, ConfirmedStatus, Normalized, Paid};
use crate::jobs::{self, ConfirmPayment, ProcessWebhook};
use crate::orders::reversals;
use crate::orders::{self, ReversalOutcome};
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
    // Checked: a timestamp near i64::MIN or MAX would wrap a plain
    // subtraction into "fresh". Past any plausible range is stale.
    let age = now.timestamp().checked_sub(ts).map(i64::unsigned_abs);
    if age.is_none_or(|a| a > TOLERANCE_SECS.unsigned_abs()) {
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
    /// Parses the path segment.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "payments" => Some(Self::Payments),
            "couriers" => Some(Self::Couriers),
            _ => None,
        }
    }
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
    // Postgres text cannot hold U+0000: an authenticated body (or the
    // identity read from it) holding one is refused before anything is
    // written, not failed on by the database.
    for (field, text) in [("body", body), ("body (its event identity)", dedupe_key)] {
        crate::input::no_nul(text).map_err(|e| DomainError::invalid(field, e.to_string()))?;
    }
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
            jobs::enqueue_for_new_row(conn, &[ProcessWebhook { event_id }]).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Stores a bKash callback (an unsigned hint), deduplicated by bKash's
/// answer rather than by the hint: while an earlier hint for the same
/// `paymentID` waits for its answer, or once bKash answered "paid", it is
/// a duplicate (returns false); after any other answer it is stored under
/// the payment's next key and confirmed again. Concurrent hints compute the
/// same next key, so one of them is the duplicate.
pub async fn store_bkash_hint(conn: &mut PgConnection, callback: &providers::bkash::Callback) -> DomainResult<bool> {
    let first = providers::bkash::dedupe_key(callback, 0);
    let earlier = sqlx::query!(
        "SELECT processed_at, confirmation FROM webhook_events
          WHERE provider = 'bkash' AND (dedupe_key = $1 OR starts_with(dedupe_key, $1 || ':'))",
        first
    )
    .fetch_all(&mut *conn)
    .await?;
    let waiting = earlier.iter().any(|e| e.processed_at.is_none());
    let paid = earlier.iter().any(|e| e.confirmation.as_ref().is_some_and(providers::bkash::answered_paid));
    if waiting || paid {
        return Ok(false);
    }
    let body = serde_json::to_string(callback).map_err(anyhow::Error::from)?;
    let key = providers::bkash::dedupe_key(callback, earlier.len());
    store(conn, "bkash", Channel::Payments, &key, &body).await
}

/// What a stored event waits for while its provider is asked to confirm it.
pub const AWAITING_CONFIRMATION: &str = "awaiting_confirmation";

/// Turns a stored body into our event by its provider's adapter.
fn normalize(provider: &str, channel: &str, body: &str) -> Option<Normalized> {
    match provider {
        "generic" => providers::generic::normalize(channel, body),
        "sslcommerz" => providers::sslcommerz::normalize(body),
        "bkash" => providers::bkash::normalize(body),
        "steadfast" => providers::steadfast::normalize(body),
        "pathao" => providers::pathao::normalize(body),
        "redx" => providers::redx::normalize(body),
        _ => None,
    }
}

/// Processes a stored event once: normalizes it, finds its order by
/// `invoice_no`, checks a payment's amount and currency against OUR order,
/// applies it, and records the outcome on the event. An event that needs
/// the provider's confirmation enqueues it and waits. A processed event is
/// left alone.
pub async fn process(
    conn: &mut PgConnection,
    event_id: Uuid,
    now: DateTime<Utc>,
    return_window_days: u32,
) -> DomainResult<String> {
    let ev = sqlx::query!(
        "SELECT provider, channel, body, processed_at, outcome FROM webhook_events WHERE id = $1 FOR UPDATE",
        event_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("webhook event"))?;
    if ev.processed_at.is_some() || ev.outcome.as_deref() == Some(AWAITING_CONFIRMATION) {
        return Ok(ev.outcome.unwrap_or_default());
    }
    let source = format!("webhook:{}:{event_id}", ev.provider);
    let outcome = match normalize(&ev.provider, &ev.channel, &ev.body) {
        None => "unparseable".to_owned(),
        Some(Normalized::NeedsConfirmation) => {
            jobs::enqueue(conn, &ConfirmPayment { event_id }, None).await?;
            sqlx::query!("UPDATE webhook_events SET outcome = $2 WHERE id = $1", event_id, AWAITING_CONFIRMATION)
                .execute(&mut *conn)
                .await?;
            return Ok(AWAITING_CONFIRMATION.to_owned());
        }
        Some(event) => match event.nul_field() {
            Some(field) => format!("refused:{field} contains a NUL character"),
            None => act(conn, event, &source, now, return_window_days).await?,
        },
    };
    finish(conn, event_id, now, &outcome).await?;
    Ok(outcome)
}

async fn finish(conn: &mut PgConnection, event_id: Uuid, now: DateTime<Utc>, outcome: &str) -> DomainResult<()> {
    sqlx::query!("UPDATE webhook_events SET processed_at = $2, outcome = $3 WHERE id = $1", event_id, now, outcome)
        .execute(conn)
        .await?;
    Ok(())
}

/// Applies a normalized event to its order and says what happened.
/// A webhook names its order by invoice number: once it is known, the
/// running job's log lines carry the order id (the worker's job span
/// declares `order_id`; elsewhere this does nothing).
fn name_order_in_logs(order_id: Uuid) {
    tracing::Span::current().record("order_id", tracing::field::display(order_id));
}

async fn act(
    conn: &mut PgConnection,
    event: Normalized,
    source: &str,
    now: DateTime<Utc>,
    return_window_days: u32,
) -> DomainResult<String> {
    match event {
        Normalized::NeedsConfirmation => Ok(AWAITING_CONFIRMATION.to_owned()),
        Normalized::RecordedOnly(outcome) => Ok(outcome),
        Normalized::Fact { invoice_no, fact, payment } => {
            let Some(order_id) = orders::id_by_invoice(conn, &invoice_no).await? else {
                return Ok("unknown_order".into());
            };
            name_order_in_logs(order_id);
            if let Some(paid) = &payment
                && let Some(problem) = payment_mismatch(conn, order_id, paid).await?
            {
                return Ok(problem);
            }
            Ok(orders::apply_fact(conn, order_id, fact, source, now).await?.as_str().to_owned())
        }
        Normalized::Reversal { invoice_no, kind, lines, external_ref } => {
            let Some(order_id) = orders::id_by_invoice(conn, &invoice_no).await? else {
                return Ok("unknown_order".into());
            };
            name_order_in_logs(order_id);
            let req = reversals::Request { kind, lines, reason: None, source: source.to_owned(), external_ref };
            // A refused reversal is the provider's problem to know about, not
            // a failure to retry: its reason becomes the event's outcome.
            let mut sp = conn.begin().await?;
            match orders::reverse(&mut sp, order_id, &req, now, return_window_days).await {
                Ok(ReversalOutcome::Recorded(_)) => {
                    sp.commit().await?;
                    Ok("applied".into())
                }
                Ok(ReversalOutcome::NothingLeft) => {
                    sp.commit().await?;
                    Ok("duplicate".into())
                }
                Err(DomainError::Invalid(errors)) => {
                    sp.rollback().await?;
                    let why = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>();
                    Ok(format!("refused:{}", why.join("; ")))
                }
                Err(DomainError::Conflict { message, .. }) => {
                    sp.rollback().await?;
                    Ok(format!("refused:{message}"))
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// Applies what the provider's server API said about a payment event that
/// was waiting for it. The invoice it names must be the event's order, and
/// its amount and currency must be OUR order's; otherwise the event is
/// flagged and nothing is applied. A second call changes nothing.
pub async fn confirm(
    conn: &mut PgConnection,
    event_id: Uuid,
    confirmation: &Confirmation,
    answer: &serde_json::Value,
    now: DateTime<Utc>,
) -> DomainResult<String> {
    let ev = sqlx::query!("SELECT provider, body, outcome FROM webhook_events WHERE id = $1 FOR UPDATE", event_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound("webhook event"))?;
    if ev.outcome.as_deref() != Some(AWAITING_CONFIRMATION) {
        return Ok(ev.outcome.unwrap_or_default());
    }
    let (kept, had_nul) = providers::without_nul(answer);
    sqlx::query!("UPDATE webhook_events SET confirmation = $2 WHERE id = $1", event_id, kept)
        .execute(&mut *conn)
        .await?;
    let outcome = if had_nul {
        "refused:the provider's answer contains a NUL character".to_owned()
    } else {
        confirmed_outcome(conn, &ev.provider, &ev.body, confirmation, event_id, now).await?
    };
    finish(conn, event_id, now, &outcome).await?;
    Ok(outcome)
}

async fn confirmed_outcome(
    conn: &mut PgConnection,
    provider: &str,
    body: &str,
    c: &Confirmation,
    event_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<String> {
    // SSLCommerz's IPN names our invoice itself; it must match the answer.
    if provider == "sslcommerz" {
        let ipn = providers::sslcommerz::parse_form(body.as_bytes()).ok();
        if ipn.and_then(|f| f.get("tran_id").cloned()) != c.invoice_no {
            return Ok("flagged:invoice_mismatch".into());
        }
    }
    let Some(invoice_no) = &c.invoice_no else {
        return Ok("flagged:no_invoice".into());
    };
    let Some(order_id) = orders::id_by_invoice(conn, invoice_no).await? else {
        return Ok("unknown_order".into());
    };
    let fact = match &c.status {
        ConfirmedStatus::Unknown(s) => return Ok(format!("unknown_status:{s}")),
        ConfirmedStatus::Failed(_) => OrderFact::PaymentFailed,
        ConfirmedStatus::Paid => {
            if let Some(problem) = payment_mismatch(conn, order_id, &c.paid).await? {
                return Ok(problem);
            }
            if c.risky {
                return Ok("flagged:risk_review".into());
            }
            OrderFact::Paid
        }
    };
    let source = format!("webhook:{provider}:{event_id}");
    Ok(orders::apply_fact(conn, order_id, fact, &source, now).await?.as_str().to_owned())
}

async fn payment_mismatch(conn: &mut PgConnection, order_id: Uuid, paid: &Paid) -> DomainResult<Option<String>> {
    let o = sqlx::query!("SELECT total, currency FROM orders WHERE id = $1", order_id).fetch_one(conn).await?;
    if paid.amount != Some(o.total) {
        return Ok(Some("flagged:amount_mismatch".into()));
    }
    if paid.currency.as_deref() != Some(o.currency.as_str()) {
        return Ok(Some("flagged:currency_mismatch".into()));
    }
    Ok(None)
}

/// A stored event's provider and raw body.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Provider.
    pub provider: String,
    /// Raw body.
    pub body: String,
}

/// Reads a stored event (for the worker's provider calls).
pub async fn stored(conn: &mut PgConnection, event_id: Uuid) -> DomainResult<Stored> {
    sqlx::query_as!(Stored, "SELECT provider, body FROM webhook_events WHERE id = $1", event_id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound("webhook event"))
}

/// A stored event as admins see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// Id (also the cursor).
    pub id: Uuid,
    /// Provider.
    pub provider: String,
    /// `payments` or `couriers`.
    pub channel: String,
    /// The provider's event identity.
    pub dedupe_key: String,
    /// The raw body as received.
    pub body: String,
    /// Received.
    pub received_at: DateTime<Utc>,
    /// Processed.
    pub processed_at: Option<DateTime<Utc>>,
    /// What it did (`applied`, `duplicate`, `flagged:…`, `unknown_status:…`, …).
    pub outcome: Option<String>,
    /// What the provider's server API answered, for confirmed payments.
    pub confirmation: Option<serde_json::Value>,
}

/// A page of stored events, newest first, optionally of one provider and
/// with outcomes starting with `outcome_prefix` (e.g. `unknown_status`).
pub async fn list(
    conn: &mut PgConnection,
    provider: Option<&str>,
    outcome_prefix: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<EventView>> {
    Ok(sqlx::query_as!(
        EventView,
        "SELECT id, provider, channel, dedupe_key, body, received_at, processed_at, outcome, confirmation
           FROM webhook_events
          WHERE ($1::text IS NULL OR provider = $1)
            AND ($2::text IS NULL OR starts_with(coalesce(outcome, ''), $2))
            AND ($3::uuid IS NULL OR id < $3)
          ORDER BY id DESC LIMIT $4",
        provider,
        outcome_prefix,
        before,
        limit
    )
    .fetch_all(conn)
    .await?)
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

    #[test]
    fn a_correctly_signed_timestamp_at_the_ends_of_the_integer_range_is_stale_not_wrapped_into_fresh() {
        let now = Utc::now();
        // now − 2^63: a plain `(now - ts).abs()` wraps to a negative age.
        let wrapping = now.timestamp().wrapping_add(i64::MIN);
        for ts in [i64::MIN, i64::MIN + 1, now.timestamp() - i64::MAX, i64::MAX, wrapping, -1, 0] {
            let sig = secret().sign("msg_1", ts, b"{}");
            let got = verify(&secret(), Some("msg_1"), Some(&ts.to_string()), Some(&sig), b"{}", now);
            assert_eq!(got, Err(AuthError::Stale), "timestamp {ts}");
        }
        let edge = now.timestamp() - TOLERANCE_SECS;
        let sig = secret().sign("msg_1", edge, b"{}");
        assert_eq!(verify(&secret(), Some("msg_1"), Some(&edge.to_string()), Some(&sig), b"{}", now), Ok(()));
    }
}
