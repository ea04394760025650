//! RedX (courier; community-documented). No documented authentication, so
//! our callback URL carries a secret `?token=`; events are deduplicated on
//! `(tracking_number, status, timestamp)`.

use serde::Deserialize;
use serde_json::Value;

use super::Refusal;
use super::{CourierOutcome, Normalized, courier_event, normalise_status, scalar_text};
use crate::checkout::shipments::{Booking, Parcel};

#[derive(Debug, Deserialize)]
struct Event {
    tracking_number: Value,
    #[serde(default)]
    timestamp: Value,
    status: String,
    invoice_number: String,
}

/// The provider's event identity, or why the body is not an event.
pub fn dedupe_key(body: &[u8]) -> Result<String, String> {
    let e: Event = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(format!("{}:{}:{}", scalar_text(&e.tracking_number), normalise_status(&e.status), scalar_text(&e.timestamp)))
}

fn outcome(status: &str) -> CourierOutcome {
    match status {
        "delivery-in-progress" => CourierOutcome::Shipped,
        "delivered" => CourierOutcome::Delivered,
        "returned" => CourierOutcome::Returned,
        "ready-for-delivery" | "agent-hold" | "agent-returning" | "agent-area-change" => CourierOutcome::RecordedOnly,
        _ => CourierOutcome::Unknown,
    }
}

/// Turns a stored RedX body into our event.
pub fn normalize(body: &str) -> Option<Normalized> {
    let e: Event = serde_json::from_str(body).ok()?;
    let status = normalise_status(&e.status);
    Some(courier_event(e.invoice_number, outcome(&status), &status))
}

/// Where RedX lists its delivery areas for a postcode (`?post_code=`).
pub const AREAS_PATH: &str = "/areas";
/// Where a parcel is booked.
pub const PARCEL_PATH: &str = "/parcel";

/// A RedX delivery area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    /// `id`.
    pub id: i64,
    /// `name`.
    pub name: String,
}

/// The first area `areas` answered for the parcel's postcode, if any.
pub fn parse_areas(v: &serde_json::Value) -> Option<Area> {
    let first = v.get("areas")?.as_array()?.first()?;
    Some(Area { id: first.get("id")?.as_i64()?, name: super::field_text(first, "name")? })
}

/// `parcel`'s body: the recipient, its delivery area, our invoice as
/// `merchant_invoice_id`, the amount to collect, the declared value, and
/// half a kilo (in grams).
pub fn parcel_body(p: &Parcel, area: &Area) -> serde_json::Value {
    serde_json::json!({
        "customer_name": p.recipient_name,
        "customer_phone": p.recipient_phone,
        "delivery_area": area.name,
        "delivery_area_id": area.id,
        "customer_address": p.recipient_address,
        "merchant_invoice_id": p.invoice_no,
        "cash_collection_amount": p.cod_amount.to_string(),
        "parcel_weight": 500,
        "instruction": p.note.clone().unwrap_or_default(),
        "value": p.value.to_string(),
        "is_closed_box": false,
        "parcel_details_json": [],
    })
}

/// Reads `parcel`'s answer: a `tracking_id` is a booking (RedX's id and
/// tracking number are one).
pub fn parse_parcel(v: &serde_json::Value) -> Result<Booking, Refusal> {
    match super::field_text(v, "tracking_id") {
        Some(id) => Ok(Booking { consignment_id: id.clone(), tracking_number: id }),
        None => match super::field_text(v, "message") {
            Some(m) => Err(Refusal::Refused(m)),
            None => Err(Refusal::Malformed("no tracking_id".into())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::order_state::OrderFact;

    #[test]
    fn delivery_in_progress_is_shipped_and_agent_hold_is_recorded() {
        let body = r#"{"tracking_number":"20A316SHQ8TN","timestamp":"2024-05-05T10:00:00.000Z","status":"delivery-in-progress","message_en":"On the way","message_bn":"","invoice_number":"INV-000007"}"#;
        assert_eq!(
            normalize(body),
            Some(Normalized::Fact { invoice_no: "INV-000007".into(), fact: OrderFact::Shipped, payment: None })
        );
        let hold = body.replace("delivery-in-progress", "agent-hold");
        assert_eq!(normalize(&hold), Some(Normalized::RecordedOnly("recorded:agent-hold".into())));
        assert_eq!(
            dedupe_key(body.as_bytes()).as_deref(),
            Ok("20A316SHQ8TN:delivery-in-progress:2024-05-05T10:00:00.000Z")
        );
    }
}
