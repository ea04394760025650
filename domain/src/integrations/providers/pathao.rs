//! Pathao (courier). An integration handshake (`{"event":
//! "webhook_integration"}`) is answered 202 with the integration secret
//! header; real events carry `X-PATHAO-Signature: <shared secret>` (a plain
//! secret, not an HMAC) and are deduplicated on
//! `(consignment_id, event, timestamp)`.

use serde::Deserialize;
use serde_json::Value;

use super::{CourierOutcome, Normalized, courier_event, normalise_status, scalar_text};

/// The header Pathao authenticates events with.
pub const SIGNATURE_HEADER: &str = "x-pathao-signature";
/// The header our handshake answer carries.
pub const INTEGRATION_HEADER: &str = "X-Pathao-Merchant-Webhook-Integration-Secret";

#[derive(Debug, Deserialize)]
struct Event {
    event: String,
    #[serde(default)]
    consignment_id: Value,
    #[serde(default)]
    merchant_order_id: Option<String>,
    #[serde(default)]
    timestamp: Value,
    #[serde(default)]
    updated_at: Value,
}

/// True for the integration handshake.
pub fn is_handshake(body: &[u8]) -> bool {
    serde_json::from_slice::<Event>(body).is_ok_and(|e| e.event == "webhook_integration")
}

/// The provider's event identity, or why the body is not an event.
pub fn dedupe_key(body: &[u8]) -> Result<String, String> {
    let e: Event = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if e.merchant_order_id.is_none() {
        return Err("missing field `merchant_order_id`".into());
    }
    let at = if e.timestamp.is_null() { &e.updated_at } else { &e.timestamp };
    Ok(format!("{}:{}:{}", scalar_text(&e.consignment_id), normalise_status(&e.event), scalar_text(at)))
}

fn outcome(event: &str) -> CourierOutcome {
    match event {
        "order.picked" | "order.in-transit" => CourierOutcome::Shipped,
        "order.delivered" => CourierOutcome::Delivered,
        "order.partial-delivery" => CourierOutcome::PartiallyDelivered,
        "order.returned" | "order.paid-return" => CourierOutcome::Returned,
        "order.created"
        | "order.updated"
        | "order.pickup-requested"
        | "order.assigned-for-pickup"
        | "order.pickup-failed"
        | "order.pickup-cancelled"
        | "order.at-the-sorting-hub"
        | "order.received-at-last-mile-hub"
        | "order.assigned-for-delivery"
        | "order.delivery-failed"
        | "order.on-hold"
        | "order.paid"
        | "order.exchanged" => CourierOutcome::RecordedOnly,
        _ => CourierOutcome::Unknown,
    }
}

/// Turns a stored Pathao body into our event.
pub fn normalize(body: &str) -> Option<Normalized> {
    let e: Event = serde_json::from_str(body).ok()?;
    let event = normalise_status(&e.event);
    Some(courier_event(e.merchant_order_id?, outcome(&event), &event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::reversals::Kind;

    const RETURNED: &str = r#"{"consignment_id":"DL121224VS8TTJ","merchant_order_id":"INV-000123","updated_at":"2024-12-21 23:25:13","timestamp":"2024-12-21T17:25:13+00:00","store_id":130820,"event":"order.returned","delivery_fee":60,"collected_amount":0}"#;

    #[test]
    fn a_returned_event_is_a_whole_return_and_the_handshake_is_recognised() {
        assert_eq!(
            normalize(RETURNED),
            Some(Normalized::Reversal {
                invoice_no: "INV-000123".into(),
                kind: Kind::Return,
                lines: None,
                external_ref: None
            })
        );
        assert_eq!(
            dedupe_key(RETURNED.as_bytes()).as_deref(),
            Ok("DL121224VS8TTJ:order.returned:2024-12-21T17:25:13+00:00")
        );
        assert!(is_handshake(br#"{"event":"webhook_integration"}"#));
        assert!(!is_handshake(RETURNED.as_bytes()));
    }
}
