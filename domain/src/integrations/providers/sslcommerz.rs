//! SSLCommerz (payments; IPN). A form-encoded POST whose `verify_sign` is
//! checked in the request (official `SSLCOMMERZ_hash_varify`); a `VALID`
//! IPN is then confirmed from the worker through the validation API, and
//! the amount and currency it answers are compared with OUR order.
//! Deduplicated on `val_id`.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use rust_decimal::Decimal;
use serde_json::Value;

use super::{Confirmation, ConfirmedStatus, Normalized, Paid, Refusal, field_text as text, secret_matches};
use crate::checkout::payments::{Session, SessionOrder};
use crate::rules::order_state::OrderFact;

/// The IPN's fields (the last value wins for a repeated name).
pub fn parse_form(body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| e.to_string())?;
    Ok(pairs.into_iter().collect())
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The signature SSLCommerz computes: the fields named in `verify_key`
/// (those present), plus `store_passwd = md5(store password)`, sorted by
/// name, joined `k=v&k=v`, md5 in lower-case hex.
pub fn sign(fields: &BTreeMap<String, String>, store_password: &str) -> Option<String> {
    let keys = fields.get("verify_key")?;
    let mut signed: BTreeMap<&str, String> =
        keys.split(',').filter_map(|k| fields.get(k).map(|v| (k, v.clone()))).collect();
    signed.insert("store_passwd", md5_hex(store_password));
    let joined = signed.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    Some(md5_hex(&joined))
}

/// True when the IPN's `verify_sign` is right for our store password.
pub fn verify(fields: &BTreeMap<String, String>, store_password: &str) -> bool {
    let presented = fields.get("verify_sign").map(|s| s.to_ascii_lowercase());
    sign(fields, store_password).is_some_and(|expected| secret_matches(&expected, presented.as_deref()))
}

/// The provider's event identity: `val_id`, or for an IPN without one (a
/// failed payment) `tran_id:status:tran_date`.
pub fn dedupe_key(fields: &BTreeMap<String, String>) -> Result<String, String> {
    if let Some(val_id) = fields.get("val_id").filter(|v| !v.is_empty()) {
        return Ok(val_id.clone());
    }
    let tran_id = fields.get("tran_id").filter(|v| !v.is_empty()).ok_or("missing field `tran_id`")?;
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    Ok(format!("{tran_id}:{}:{}", get("status"), get("tran_date")))
}

/// Turns a stored IPN into our event.
pub fn normalize(body: &str) -> Option<Normalized> {
    let fields = parse_form(body.as_bytes()).ok()?;
    let invoice_no = fields.get("tran_id")?.clone();
    let status = fields.get("status").map(|s| s.trim().to_ascii_uppercase()).unwrap_or_default();
    Some(match status.as_str() {
        "VALID" | "VALIDATED" => Normalized::NeedsConfirmation,
        "FAILED" | "CANCELLED" => Normalized::Fact { invoice_no, fact: OrderFact::PaymentFailed, payment: None },
        other => Normalized::RecordedOnly(format!("unknown_status:{other}")),
    })
}

/// The validation API's address for a stored IPN, or `None` without a `val_id`.
pub fn validation_url(base_url: &str, body: &str, store_id: &str, store_password: &str) -> Option<String> {
    let fields = parse_form(body.as_bytes()).ok()?;
    let val_id = fields.get("val_id").filter(|v| !v.is_empty())?;
    let query = serde_urlencoded::to_string([
        ("val_id", val_id.as_str()),
        ("store_id", store_id),
        ("store_passwd", store_password),
        ("format", "json"),
    ])
    .ok()?;
    Some(format!("{}/validator/api/validationserverAPI.php?{query}", base_url.trim_end_matches('/')))
}

/// Reads the validation API's answer. `VALID` and `VALIDATED` (validated
/// before) are both a payment; the amount compared is the one in the
/// merchant's currency (`currency_amount`/`currency_type`, as the official
/// code does), falling back to `amount`/`currency`.
pub fn parse_validation(v: &Value) -> Confirmation {
    let status = text(v, "status").unwrap_or_default().to_ascii_uppercase();
    let (amount, currency) = match (text(v, "currency_amount"), text(v, "currency_type")) {
        (Some(a), Some(c)) => (Some(a), Some(c)),
        _ => (text(v, "amount"), text(v, "currency")),
    };
    let status = match status.as_str() {
        "VALID" | "VALIDATED" => ConfirmedStatus::Paid,
        "FAILED" | "CANCELLED" | "INVALID_TRANSACTION" => ConfirmedStatus::Failed(status.clone()),
        other => ConfirmedStatus::Unknown(other.to_owned()),
    };
    Confirmation {
        status,
        invoice_no: text(v, "tran_id"),
        paid: Paid { amount: amount.and_then(|a| a.parse::<Decimal>().ok()), currency },
        risky: text(v, "risk_level").as_deref() == Some("1"),
    }
}

/// Where a store asks SSLCommerz for a hosted payment session.
pub const SESSION_PATH: &str = "/gwprocess/v4/api.php";

/// The store's credentials and our addresses a session request carries.
#[derive(Debug, Clone, Copy)]
pub struct SessionContext<'a> {
    /// `store_id`.
    pub store_id: &'a str,
    /// `store_passwd`.
    pub store_password: &'a str,
    /// Our IPN address (`{public url}/v1/webhooks/payments/sslcommerz`).
    pub ipn_url: &'a str,
}

/// The form of a session request (the v4 API's required fields): the
/// amount, currency and invoice are OUR order's; the buyer is sent back to
/// the storefront's `return_url` whatever the outcome, and learns the
/// outcome from the order (the IPN, confirmed by the validation API, is
/// what pays it). `value_a` carries our attempt id.
pub fn session_form(order: &SessionOrder, cx: SessionContext<'_>) -> Vec<(&'static str, String)> {
    vec![
        ("store_id", cx.store_id.to_owned()),
        ("store_passwd", cx.store_password.to_owned()),
        ("total_amount", order.amount.to_string()),
        ("currency", order.currency.clone()),
        ("tran_id", order.invoice_no.clone()),
        ("success_url", order.return_url.clone()),
        ("fail_url", order.return_url.clone()),
        ("cancel_url", order.return_url.clone()),
        ("ipn_url", cx.ipn_url.to_owned()),
        ("cus_name", order.customer_name.clone()),
        ("cus_email", order.customer_email.clone()),
        ("cus_add1", order.address_line1.clone()),
        ("cus_city", order.city.clone()),
        ("cus_postcode", order.postcode.clone()),
        ("cus_country", "Bangladesh".to_owned()),
        ("cus_phone", order.customer_phone.clone()),
        ("shipping_method", "Courier".to_owned()),
        ("num_of_item", order.items.to_string()),
        ("ship_name", order.customer_name.clone()),
        ("ship_add1", order.address_line1.clone()),
        ("ship_city", order.city.clone()),
        ("ship_postcode", order.postcode.clone()),
        ("ship_country", "Bangladesh".to_owned()),
        ("product_name", order.product_names.clone()),
        ("product_category", order.product_categories.clone()),
        ("product_profile", "physical-goods".to_owned()),
        ("value_a", order.attempt_id.to_string()),
    ]
}

/// Reads the session API's answer: `status: "SUCCESS"` with a
/// `GatewayPageURL` and `sessionkey` is a session; `FAILED` carries
/// `failedreason`.
pub fn parse_session(v: &Value) -> Result<Session, Refusal> {
    let status = text(v, "status").unwrap_or_default().to_ascii_uppercase();
    match (status.as_str(), text(v, "GatewayPageURL"), text(v, "sessionkey")) {
        ("SUCCESS", Some(url), Some(key)) if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(Session { redirect_url: url, gateway_ref: key })
        }
        ("FAILED", _, _) => Err(Refusal::Refused(text(v, "failedreason").unwrap_or_else(|| "no reason given".into()))),
        _ => Err(Refusal::Malformed("no status SUCCESS with GatewayPageURL and sessionkey".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipn(password: &str) -> BTreeMap<String, String> {
        let mut f: BTreeMap<String, String> = [
            ("status", "VALID"),
            ("tran_id", "INV-000001"),
            ("val_id", "2411221234561abcdEFGH"),
            ("amount", "900.00"),
            ("currency", "BDT"),
            ("verify_key", "amount,currency,status,tran_id,val_id"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let sig = sign(&f, password).expect("signable");
        f.insert("verify_sign".into(), sig);
        f
    }

    #[test]
    fn the_signature_follows_the_official_recipe() {
        // md5("amount=900.00&currency=BDT&status=VALID&store_passwd=<md5 of pw>&tran_id=INV-000001&val_id=…")
        let f = ipn("store-pw");
        let joined = format!(
            "amount=900.00&currency=BDT&status=VALID&store_passwd={}&tran_id=INV-000001&val_id=2411221234561abcdEFGH",
            md5_hex("store-pw")
        );
        assert_eq!(f["verify_sign"], md5_hex(&joined));
        assert!(verify(&f, "store-pw"));
    }

    #[test]
    fn a_changed_field_or_another_password_fails_verification() {
        let mut f = ipn("store-pw");
        assert!(!verify(&f, "other-pw"));
        f.insert("amount".into(), "9.00".into());
        assert!(!verify(&f, "store-pw"));
        let mut unsigned = ipn("store-pw");
        unsigned.remove("verify_sign");
        assert!(!verify(&unsigned, "store-pw"));
    }

    #[test]
    fn validation_answers_are_read_in_the_merchants_currency() {
        let v = serde_json::json!({"status": "VALIDATED", "tran_id": "INV-000001", "amount": "900.00",
            "currency": "BDT", "currency_type": "BDT", "currency_amount": "900.00", "risk_level": "0"});
        let c = parse_validation(&v);
        assert_eq!(c.status, ConfirmedStatus::Paid);
        assert_eq!(c.paid.amount, Some(Decimal::new(90000, 2)));
        assert!(!c.risky);
        assert!(parse_validation(&serde_json::json!({"status": "VALID", "risk_level": "1"})).risky);
    }
}
