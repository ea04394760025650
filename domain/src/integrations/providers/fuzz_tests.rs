//! Every adapter meets arbitrary bytes and strings — what an attacker or a
//! broken gateway may send — without panicking, and whatever it reads
//! from them stays within what can be stored or is refused.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

/// Any text, control characters and NUL included (`any::<String>()`
/// alone draws printable characters only).
fn wild_text() -> BoxedStrategy<String> {
    prop_oneof![any::<String>(), "[\\PC\\x00-\\x1f]{0,40}", "[\\x00]{1,3}"].boxed()
}

/// Bodies that look like each provider's (so parsing gets deep) with
/// arbitrary values, and plain arbitrary text.
fn body() -> impl Strategy<Value = String> {
    let text = wild_text();
    let scalar = prop_oneof![
        wild_text().prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(Value::Null),
        Just(json!("1000000000000000000000000000000")),
    ];
    prop_oneof![
        text.clone(),
        (scalar.clone(), scalar.clone(), scalar.clone(), text.clone()).prop_map(|(a, b, c, status)| {
            json!({"type": status, "data": {"invoice_no": a, "amount": b, "currency": c, "transaction_id": a,
                   "lines": [{"order_line_id": b, "quantity": c}]}})
            .to_string()
        }),
        (scalar.clone(), scalar.clone(), text.clone()).prop_map(|(id, invoice, status)| {
            json!({"consignment_id": id, "invoice": invoice, "status": status, "updated_at": id,
                   "event": status, "merchant_order_id": invoice, "order_id": id, "consignment": id,
                   "tracking_number": id, "invoice_number": invoice, "delivery_status": status, "timestamp": id,
                   "paymentID": id})
            .to_string()
        }),
        (text.clone(), text.clone(), text).prop_map(|(a, b, c)| {
            serde_urlencoded::to_string([
                ("tran_id", a.as_str()),
                ("val_id", b.as_str()),
                ("status", c.as_str()),
                ("amount", b.as_str()),
                ("currency", a.as_str()),
            ])
            .unwrap_or_default()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_adapter_panics_on_any_body_and_what_it_normalizes_is_storable_or_refused(
        body in body(),
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        for raw in [body.as_bytes(), bytes.as_slice()] {
            let _ = steadfast::dedupe_key(raw);
            let _ = pathao::dedupe_key(raw);
            let _ = pathao::is_handshake(raw);
            let _ = redx::dedupe_key(raw);
            if let Ok(fields) = sslcommerz::parse_form(raw) {
                let _ = sslcommerz::verify(&fields, "qwerty");
                let _ = sslcommerz::dedupe_key(&fields);
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        for b in [body.as_str(), text.as_str()] {
            let events = [
                generic::normalize("payments", b),
                generic::normalize("couriers", b),
                sslcommerz::normalize(b),
                bkash::normalize(b),
                steadfast::normalize(b),
                pathao::normalize(b),
                redx::normalize(b),
            ];
            for event in events.into_iter().flatten() {
                // What holds a NUL is named, so it is refused, not stored.
                // (Debug shows a NUL as `\0` and a backslash as `\\`.)
                let has_nul = format!("{event:?}").replace("\\\\", "").contains("\\0");
                prop_assert_eq!(event.nul_field().is_some(), has_nul, "{:?}", event);
            }
            let _ = bkash::parse_callback(b);
            let _ = sslcommerz::validation_url("https://sandbox.sslcommerz.com", b, "testbox", "qwerty");
            if let Ok(v) = serde_json::from_str::<Value>(b) {
                let _ = bkash::parse_payment(&v);
                let _ = bkash::execute_is_final(&v);
                let _ = sslcommerz::parse_validation(&v);
                let (clean, _) = without_nul(&v);
                prop_assert!(!clean.to_string().contains("\\u0000"));
            }
        }
    }

    #[test]
    fn a_bkash_callback_that_parses_is_storable(query in wild_text(), id in wild_text(), status in wild_text()) {
        let built = serde_urlencoded::to_string([("paymentID", id.as_str()), ("status", status.as_str())]).unwrap_or_default();
        for q in [query.as_str(), built.as_str()] {
            if let Ok(c) = bkash::parse_callback(q) {
                prop_assert!(!c.payment_id.contains('\0') && !c.status.contains('\0'));
                prop_assert!(c.payment_id.chars().count() <= 128);
                prop_assert!(!bkash::dedupe_key(&c, 3).contains('\0'));
            }
        }
    }

    #[test]
    fn amounts_and_rates_from_any_text_parse_within_bounds_or_are_refused(s in wild_text(), digits in "[0-9]{0,40}(\\.[0-9]{0,6})?") {
        for t in [s.as_str(), digits.as_str()] {
            if let Ok(d) = crate::money::parse_amount(t, 2) {
                prop_assert!(d >= rust_decimal::Decimal::ZERO && d <= crate::money::MAX_AMOUNT);
            }
            if let Ok(r) = crate::money::parse_rate(t) {
                prop_assert!(r >= rust_decimal::Decimal::ZERO && r <= rust_decimal::Decimal::ONE);
            }
        }
    }
}
