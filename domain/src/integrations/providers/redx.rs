//! RedX (courier; community-documented). No documented authentication, so
//! our callback URL carries a secret `?token=`; events are deduplicated on
//! `(tracking_number, status, timestamp)`.

use serde::Deserialize;
use serde_json::Value;

use super::{CourierOutcome, Normalized, courier_event, normalise_status, scalar_text};

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
