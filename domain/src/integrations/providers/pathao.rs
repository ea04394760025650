//! Pathao (courier). An integration handshake (`{"event":
//! "webhook_integration"}`) is answered 202 with the integration secret
//! header; real events carry `X-PATHAO-Signature: <shared secret>` (a plain
//! secret, not an HMAC) and are deduplicated on
//! `(consignment_id, event, timestamp)`.

use serde::Deserialize;
use serde_json::Value;

use super::Refusal;
use super::{CourierOutcome, Normalized, courier_event, normalise_status, scalar_text};
use crate::checkout::shipments::{Booking, Parcel};

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

/// Where Pathao issues its OAuth token (password grant, then refresh).
pub const TOKEN_PATH: &str = "/aladdin/api/v1/issue-token";
/// Where a parcel is booked.
pub const ORDERS_PATH: &str = "/aladdin/api/v1/orders";

/// The merchant's Pathao credentials an OAuth token request carries.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// `client_id`.
    pub client_id: &'a str,
    /// `client_secret`.
    pub client_secret: &'a str,
    /// The merchant login.
    pub username: &'a str,
    /// Its password.
    pub password: &'a str,
}

/// `issue-token`'s body: the password grant, or the refresh grant when a
/// refresh token is given.
pub fn token_body(c: Credentials<'_>, refresh_token: Option<&str>) -> serde_json::Value {
    match refresh_token {
        Some(r) => serde_json::json!({"client_id": c.client_id, "client_secret": c.client_secret,
                                      "grant_type": "refresh_token", "refresh_token": r}),
        None => serde_json::json!({"client_id": c.client_id, "client_secret": c.client_secret,
                                   "grant_type": "password", "username": c.username, "password": c.password}),
    }
}

/// Reads `issue-token`'s answer (`access_token`, `expires_in`, `refresh_token`).
pub fn parse_token(v: &serde_json::Value, now: chrono::DateTime<chrono::Utc>) -> Result<super::IssuedToken, Refusal> {
    super::parse_issued_token(v, "access_token", now)
}

/// `orders`' body: the merchant's store, our invoice as
/// `merchant_order_id`, the recipient, normal delivery (48 h) of a parcel
/// (item type 2), and the amount to collect. City, zone and area are left
/// for Pathao to find from the address.
pub fn order_body(p: &Parcel, store_id: &str) -> serde_json::Value {
    serde_json::json!({
        "store_id": store_id,
        "merchant_order_id": p.invoice_no,
        "recipient_name": p.recipient_name,
        "recipient_phone": p.recipient_phone,
        "recipient_address": p.recipient_address,
        "delivery_type": 48,
        "item_type": 2,
        "special_instruction": p.note.clone().unwrap_or_default(),
        "item_quantity": p.items,
        "item_weight": "0.5",
        "item_description": p.item_description,
        "amount_to_collect": super::json_amount(p.cod_amount),
    })
}

/// Reads `orders`' answer: `code 200` with `data.consignment_id` is a
/// booking (Pathao tracks a parcel by its consignment id).
pub fn parse_order(v: &serde_json::Value) -> Result<Booking, Refusal> {
    let id = v.get("data").and_then(|d| super::field_text(d, "consignment_id"));
    match (super::field_text(v, "code").as_deref(), id) {
        (Some("200"), Some(id)) => Ok(Booking { consignment_id: id.clone(), tracking_number: id }),
        (Some(code), _) if code != "200" => {
            Err(Refusal::Refused(format!("code {code}: {}", super::field_text(v, "message").unwrap_or_default())))
        }
        _ => Err(Refusal::Malformed("no code 200 with data.consignment_id".into())),
    }
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
