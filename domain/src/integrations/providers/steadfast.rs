//! Steadfast (courier). Authenticated by `Authorization: Bearer <token>` set
//! in their panel; no event id, so events are deduplicated on
//! `(consignment_id, status, updated_at)`. Status spelling varies in case.

use serde::Deserialize;
use serde_json::Value;

use super::Refusal;
use super::{CourierOutcome, Normalized, courier_event, normalise_status, scalar_text};
use crate::checkout::shipments::{Booking, Parcel};

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(default)]
    notification_type: Option<String>,
    consignment_id: Value,
    invoice: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

/// The provider's event identity, or the field that is missing.
pub fn dedupe_key(body: &[u8]) -> Result<String, String> {
    let e: Event = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let status = e.status.as_deref().map(normalise_status).or(e.notification_type).unwrap_or_default();
    Ok(format!("{}:{status}:{}", scalar_text(&e.consignment_id), e.updated_at.unwrap_or_default()))
}

fn outcome(status: &str) -> CourierOutcome {
    match status {
        "delivered" => CourierOutcome::Delivered,
        "partial_delivered" => CourierOutcome::PartiallyDelivered,
        "cancelled" => CourierOutcome::Returned,
        "pending"
        | "delivered_approval_pending"
        | "partial_delivered_approval_pending"
        | "cancelled_approval_pending"
        | "unknown_approval_pending"
        | "hold"
        | "in_review"
        | "unknown" => CourierOutcome::RecordedOnly,
        _ => CourierOutcome::Unknown,
    }
}

/// Turns a stored Steadfast body into our event.
pub fn normalize(body: &str) -> Option<Normalized> {
    let e: Event = serde_json::from_str(body).ok()?;
    let Some(status) = e.status.as_deref().map(normalise_status) else {
        let kind = e.notification_type.unwrap_or_else(|| "tracking_update".into());
        return Some(Normalized::RecordedOnly(format!("recorded:{kind}")));
    };
    Some(courier_event(e.invoice, outcome(&status), &status))
}

/// Where a parcel is booked (under the API's base URL).
pub const CREATE_PATH: &str = "/create_order";

/// `create_order`'s body: our invoice number (which Steadfast requires to
/// be unique, so a repeated booking of an order is refused, not doubled),
/// the recipient, and the amount to collect in whole or decimal taka.
pub fn create_order_body(p: &Parcel) -> serde_json::Value {
    serde_json::json!({
        "invoice": p.invoice_no,
        "recipient_name": p.recipient_name,
        "recipient_phone": p.recipient_phone,
        "recipient_address": p.recipient_address,
        "cod_amount": super::json_amount(p.cod_amount),
        "note": p.note.clone().unwrap_or_default(),
        "item_description": p.item_description,
        "total_lot": p.items,
        "delivery_type": 0,
    })
}

/// Reads `create_order`'s answer: `status 200` with a `consignment`
/// (`consignment_id`, `tracking_code`) is a booking.
pub fn parse_created(v: &serde_json::Value) -> Result<Booking, Refusal> {
    let c = v.get("consignment");
    let id = c.and_then(|c| super::field_text(c, "consignment_id"));
    let code = c.and_then(|c| super::field_text(c, "tracking_code"));
    match (super::field_text(v, "status").as_deref(), id, code) {
        (Some("200"), Some(consignment_id), Some(tracking_number)) => Ok(Booking { consignment_id, tracking_number }),
        (Some(status), _, _) if status != "200" => Err(Refusal::Refused(format!(
            "status {status}: {}",
            super::field_text(v, "message")
                .unwrap_or_else(|| v.get("errors").map(|e| e.to_string()).unwrap_or_default())
        ))),
        _ => Err(Refusal::Malformed("no status 200 with consignment_id and tracking_code".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::order_state::OrderFact;

    const DELIVERED: &str = r#"{"notification_type":"delivery_status","consignment_id":1424107,"invoice":"INV-000123","cod_amount":900,"status":"Delivered","delivery_charge":100,"tracking_message":"Delivered to customer","updated_at":"2025-03-02 12:45:30"}"#;

    #[test]
    fn their_own_example_with_a_capitalised_status_is_a_delivery() {
        assert_eq!(
            normalize(DELIVERED),
            Some(Normalized::Fact { invoice_no: "INV-000123".into(), fact: OrderFact::Delivered, payment: None })
        );
        assert_eq!(dedupe_key(DELIVERED.as_bytes()).as_deref(), Ok("1424107:delivered:2025-03-02 12:45:30"));
    }

    #[test]
    fn approval_pending_and_tracking_updates_are_recorded_only() {
        let pending = DELIVERED.replace("\"Delivered\"", "\"delivered_approval_pending\"");
        assert_eq!(normalize(&pending), Some(Normalized::RecordedOnly("recorded:delivered_approval_pending".into())));
        let tracking = r#"{"notification_type":"tracking_update","consignment_id":1,"invoice":"INV-000123","tracking_message":"At hub","updated_at":"2025-03-02 10:00:00"}"#;
        assert_eq!(normalize(tracking), Some(Normalized::RecordedOnly("recorded:tracking_update".into())));
        let odd = DELIVERED.replace("\"Delivered\"", "\"teleported\"");
        assert_eq!(normalize(&odd), Some(Normalized::RecordedOnly("unknown_status:teleported".into())));
    }
}
