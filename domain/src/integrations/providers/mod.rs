//! Provider adapters: each turns what its gateway or courier sends into one
//! [`Normalized`] event of ours, found by invoice number. Authentication of
//! the raw request happens before (in the api, with the helpers here);
//! turning a stored body into an event happens in the worker.

pub mod bkash;
pub mod generic;
pub mod pathao;
pub mod redx;
pub mod sslcommerz;
pub mod steadfast;

use rust_decimal::Decimal;
use subtle::ConstantTimeEq;

use crate::orders::reversals::{Kind, LineUnits};
use crate::rules::order_state::OrderFact;

/// What a provider's event asks of an order.
#[derive(Debug, Clone, PartialEq)]
pub enum Normalized {
    /// A fact about the order named by `invoice_no`.
    Fact {
        /// Our invoice number.
        invoice_no: String,
        /// The fact.
        fact: OrderFact,
        /// For a payment: what the provider says was paid, checked against
        /// OUR order before anything is applied.
        payment: Option<Paid>,
    },
    /// A return or refund of the order (or of some lines).
    Reversal {
        /// Our invoice number.
        invoice_no: String,
        /// Return or refund.
        kind: Kind,
        /// Some lines, or `None` for everything not yet reversed.
        lines: Option<Vec<LineUnits>>,
        /// The provider's id of a refund, when it sends one.
        external_ref: Option<String>,
    },
    /// An unsigned hint (SSLCommerz IPN, bKash callback): the worker must
    /// confirm it with the provider's server API before anything happens.
    NeedsConfirmation,
    /// Stored and reported, changes nothing (`recorded:<status>`, or
    /// `unknown_status:<status>` for a status we do not know).
    RecordedOnly(String),
}

impl Normalized {
    /// The first text of the event holding U+0000, by name: such an event
    /// can never be applied (no text column stores the character), so it
    /// is refused, never retried.
    pub fn nul_field(&self) -> Option<&'static str> {
        let has = |s: &str| s.contains('\0');
        match self {
            Self::Fact { invoice_no, payment, .. } => {
                if has(invoice_no) {
                    Some("invoice_no")
                } else if payment.as_ref().and_then(|p| p.currency.as_deref()).is_some_and(has) {
                    Some("currency")
                } else {
                    None
                }
            }
            Self::Reversal { invoice_no, external_ref, .. } => {
                if has(invoice_no) {
                    Some("invoice_no")
                } else if external_ref.as_deref().is_some_and(has) {
                    Some("refund id")
                } else {
                    None
                }
            }
            Self::RecordedOnly(status) if has(status) => Some("status"),
            Self::RecordedOnly(_) | Self::NeedsConfirmation => None,
        }
    }
}

/// A JSON value with every U+0000 in its strings and keys replaced by
/// U+FFFD, and whether there was any: Postgres's jsonb refuses the
/// character, and a provider's answer is kept for the record even when it
/// cannot be applied.
pub fn without_nul(v: &serde_json::Value) -> (serde_json::Value, bool) {
    use serde_json::Value;
    let clean = |s: &str| s.replace('\0', "\u{FFFD}");
    match v {
        Value::String(s) if s.contains('\0') => (Value::String(clean(s)), true),
        Value::Array(items) => {
            let (items, found): (Vec<_>, Vec<_>) = items.iter().map(without_nul).unzip();
            (Value::Array(items), found.into_iter().any(|f| f))
        }
        Value::Object(map) => {
            let mut found = false;
            let map = map
                .iter()
                .map(|(k, item)| {
                    let (item, inner) = without_nul(item);
                    found |= inner || k.contains('\0');
                    (clean(k), item)
                })
                .collect();
            (Value::Object(map), found)
        }
        other => (other.clone(), false),
    }
}

/// What a provider says was paid.
#[derive(Debug, Clone, PartialEq)]
pub struct Paid {
    /// Amount, when the provider sent a readable one.
    pub amount: Option<Decimal>,
    /// Currency code.
    pub currency: Option<String>,
}

/// Compares a configured secret with what a request presented, in constant
/// time, after checking lengths (so an empty or truncated value never matches).
pub fn secret_matches(expected: &str, presented: Option<&str>) -> bool {
    match presented {
        Some(p) if !expected.is_empty() && p.len() == expected.len() => {
            bool::from(p.as_bytes().ct_eq(expected.as_bytes()))
        }
        _ => false,
    }
}

/// A courier status as its provider spells it, lower-cased and trimmed.
pub fn normalise_status(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

/// The normalized event of a courier's delivery status (one table for all
/// couriers: PROVIDERS.md "Mapping to order events").
pub fn courier_event(invoice_no: String, outcome: CourierOutcome, status: &str) -> Normalized {
    match outcome {
        CourierOutcome::Shipped => Normalized::Fact { invoice_no, fact: OrderFact::Shipped, payment: None },
        CourierOutcome::Delivered => Normalized::Fact { invoice_no, fact: OrderFact::Delivered, payment: None },
        CourierOutcome::PartiallyDelivered => {
            Normalized::Fact { invoice_no, fact: OrderFact::PartiallyDelivered, payment: None }
        }
        CourierOutcome::Returned => {
            Normalized::Reversal { invoice_no, kind: Kind::Return, lines: None, external_ref: None }
        }
        CourierOutcome::RecordedOnly => Normalized::RecordedOnly(format!("recorded:{status}")),
        CourierOutcome::Unknown => Normalized::RecordedOnly(format!("unknown_status:{status}")),
    }
}

/// What a courier status means for the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CourierOutcome {
    /// Picked up / in transit.
    Shipped,
    /// Delivered (cod: paid by collection).
    Delivered,
    /// Some lines delivered.
    PartiallyDelivered,
    /// Came back to us.
    Returned,
    /// A known status that changes nothing.
    RecordedOnly,
    /// A status we do not know.
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_exactly() {
        assert!(secret_matches("s3cret-token", Some("s3cret-token")));
        for bad in [None, Some(""), Some("s3cret-toke"), Some("s3cret-tokeN"), Some("s3cret-token ")] {
            assert!(!secret_matches("s3cret-token", bad), "{bad:?}");
        }
        assert!(!secret_matches("", Some("")));
    }
}

/// A JSON scalar as text (ids and timestamps arrive as numbers or strings).
pub fn scalar_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// What a provider's server API said about a payment.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    /// Paid, failed, or something we do not know.
    pub status: ConfirmedStatus,
    /// The invoice number the provider has for it.
    pub invoice_no: Option<String>,
    /// The amount and currency it says were paid.
    pub paid: Paid,
    /// Flagged by the provider as risky: held for review, not applied.
    pub risky: bool,
}

/// A confirmed payment status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmedStatus {
    /// Money received.
    Paid,
    /// Not paid (the provider's word for why).
    Failed(String),
    /// A status we do not know: recorded.
    Unknown(String),
}

/// Why a provider did not do what it was asked (open a payment session,
/// book a parcel, issue a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The gateway said no (its reason): asking again will not help.
    Refused(String),
    /// The answer is not what the gateway's documentation says it sends.
    Malformed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(why) => write!(f, "refused: {why}"),
            Self::Malformed(what) => write!(f, "answered something unexpected: {what}"),
        }
    }
}

/// An access token a provider issued (bKash's grant token, Pathao's
/// OAuth token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token sent as `Authorization`.
    pub id_token: String,
    /// What `token/refresh` takes to issue the next one.
    pub refresh_token: Option<String>,
    /// When `id_token` stops working (`expires_in` after it was issued).
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// How long before its end a token is no longer used (a call made with it
/// must not arrive after it expired).
pub const TOKEN_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// What to do for a call's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStep {
    /// The cached token is good.
    Use,
    /// The cached token is ending: ask `token/refresh` with its refresh token.
    Refresh(String),
    /// No token (or no refresh token): ask `token/grant`.
    Grant,
}

/// Providers issue a token for a while (bKash an hour, Pathao days) and ask
/// merchants to reuse it, not to ask for one per call: use it until
/// [`TOKEN_MARGIN`] before its end, then refresh it.
pub fn token_step(cached: Option<&IssuedToken>, now: chrono::DateTime<chrono::Utc>) -> TokenStep {
    match cached {
        Some(t) if now < t.expires_at - TOKEN_MARGIN => TokenStep::Use,
        Some(IssuedToken { refresh_token: Some(r), .. }) => TokenStep::Refresh(r.clone()),
        _ => TokenStep::Grant,
    }
}

/// Reads a token answer received at `now`: the token in `field`, its
/// `refresh_token` and `expires_in` (seconds; an hour when missing). An
/// answer without the token is the provider's refusal (its `statusCode`
/// or `message`) or malformed.
pub fn parse_issued_token(
    v: &serde_json::Value,
    field: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<IssuedToken, Refusal> {
    let Some(token) = field_text(v, field) else {
        let code = field_text(v, "statusCode").or_else(|| field_text(v, "code"));
        let message = field_text(v, "statusMessage").or_else(|| field_text(v, "message")).unwrap_or_default();
        return Err(match code {
            Some(code) => Refusal::Refused(format!("{code}: {message}")),
            None => Refusal::Malformed(format!("no {field}")),
        });
    };
    let seconds = field_text(v, "expires_in").and_then(|s| s.parse::<i64>().ok()).unwrap_or(3600).clamp(0, 30 * 86_400);
    Ok(IssuedToken {
        id_token: token,
        refresh_token: field_text(v, "refresh_token"),
        expires_at: now + chrono::Duration::seconds(seconds),
    })
}

/// An amount as a JSON number, for couriers whose APIs take numbers
/// (`cod_amount: 1060`): whole taka as an integer, else the shortest
/// decimal that reads back as the amount (paisa never need more).
pub fn json_amount(amount: Decimal) -> serde_json::Value {
    let amount = amount.normalize();
    match i64::try_from(amount) {
        Ok(whole) if amount.fract().is_zero() => serde_json::Value::from(whole),
        _ => amount.to_string().parse::<f64>().map(serde_json::Value::from).unwrap_or(serde_json::Value::Null),
    }
}

/// A non-empty string or number field of a provider's JSON answer, as text
/// (providers send amounts and codes either way).
pub fn field_text(v: &serde_json::Value, key: &str) -> Option<String> {
    match v.get(key)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod fuzz_tests;
