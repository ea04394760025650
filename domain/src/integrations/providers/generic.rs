//! The `generic` provider: Standard Webhooks-signed JSON events of our own
//! format (API.md → Webhooks). Signature checking lives in
//! [`crate::integrations::webhooks::verify`].

use rust_decimal::Decimal;
use serde::Deserialize;

use super::{Normalized, Paid};
use crate::orders::reversals::{Kind, LineUnits};
use crate::rules::order_state::OrderFact;

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Debug, Deserialize)]
struct Data {
    invoice_no: String,
    #[serde(default)]
    amount: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    /// For a partial refund.
    #[serde(default)]
    lines: Option<Vec<LineUnits>>,
    /// The provider's id of a refund.
    #[serde(default)]
    refund_id: Option<String>,
}

/// Turns a stored generic event into ours; `None` when the body is not one.
pub fn normalize(channel: &str, body: &str) -> Option<Normalized> {
    let event: Event = serde_json::from_str(body).ok()?;
    let invoice_no = event.data.invoice_no;
    let fact = |fact| Normalized::Fact { invoice_no: invoice_no.clone(), fact, payment: None };
    Some(match (channel, event.kind.as_str()) {
        ("payments", "payment.succeeded") => Normalized::Fact {
            invoice_no: invoice_no.clone(),
            fact: OrderFact::Paid,
            payment: Some(Paid {
                amount: event.data.amount.as_deref().and_then(|a| a.trim().parse::<Decimal>().ok()),
                currency: event.data.currency,
            }),
        },
        ("payments", "payment.failed") => fact(OrderFact::PaymentFailed),
        ("payments", "payment.refunded") => Normalized::Reversal {
            invoice_no,
            kind: Kind::Refund,
            lines: event.data.lines,
            external_ref: event.data.refund_id,
        },
        ("couriers", "delivery.shipped") => fact(OrderFact::Shipped),
        ("couriers", "delivery.delivered") => fact(OrderFact::Delivered),
        ("couriers", "delivery.partially_delivered") => fact(OrderFact::PartiallyDelivered),
        ("couriers", "delivery.returned" | "delivery.cancelled") => {
            Normalized::Reversal { invoice_no, kind: Kind::Return, lines: None, external_ref: None }
        }
        (_, other) => Normalized::RecordedOnly(format!("unknown_type:{other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_refund_names_its_lines() {
        let line = uuid::Uuid::now_v7();
        let body = format!(
            r#"{{"type":"payment.refunded","data":{{"invoice_no":"INV-000001","lines":[{{"order_line_id":"{line}","quantity":1}}]}}}}"#
        );
        assert_eq!(
            normalize("payments", &body),
            Some(Normalized::Reversal {
                invoice_no: "INV-000001".into(),
                kind: Kind::Refund,
                lines: Some(vec![LineUnits { order_line_id: line, quantity: 1 }]),
                external_ref: None,
            })
        );
    }

    #[test]
    fn an_unknown_type_is_recorded_not_an_error() {
        let body = r#"{"type":"delivery.teleported","data":{"invoice_no":"INV-000001"}}"#;
        assert_eq!(
            normalize("couriers", body),
            Some(Normalized::RecordedOnly("unknown_type:delivery.teleported".into()))
        );
        assert_eq!(normalize("couriers", "not json"), None);
    }
}
