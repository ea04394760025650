//! bKash tokenized checkout (payments). The browser callback
//! (`?paymentID=…&status=success|failure|cancel`) is unauthenticated: it is
//! stored and only triggers `execute` (then `payment/status`) from the
//! worker, whose answer — not the callback, whatever status it claims —
//! decides. Deduplicated by the answer: a hint for a `paymentID` is a
//! duplicate while an earlier one awaits its answer or once bKash has
//! answered "paid"; after any other answer a new hint is confirmed again,
//! so a forged or early hint never blocks the real one.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Confirmation, ConfirmedStatus, IssuedToken, Normalized, Paid, Refusal, field_text as text};
use crate::checkout::payments::{Session, SessionOrder};

/// The callback's query parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Callback {
    /// bKash's payment id.
    #[serde(rename = "paymentID")]
    pub payment_id: String,
    /// `success`, `failure` or `cancel`.
    pub status: String,
}

/// Parses the callback's query string.
pub fn parse_callback(query: &str) -> Result<Callback, String> {
    let c: Callback = serde_urlencoded::from_str(query).map_err(|e| e.to_string())?;
    for (field, value, max) in [("paymentID", &c.payment_id, 128), ("status", &c.status, 32)] {
        crate::input::required(value, max).map_err(|e| format!("{field} {e}"))?;
    }
    Ok(c)
}

/// The identity of the payment a hint is about: the `n`-th hint stored for
/// it (counting from 0) is keyed `payment:{paymentID}` then `…:{n}`.
pub fn dedupe_key(c: &Callback, n: usize) -> String {
    match n {
        0 => format!("payment:{}", c.payment_id),
        n => format!("payment:{}:{n}", c.payment_id),
    }
}

/// True when bKash's stored answer to an earlier hint said the payment was
/// made: nothing a later hint could add.
pub fn answered_paid(answer: &Value) -> bool {
    parse_payment(answer).status == ConfirmedStatus::Paid
}

/// Turns a stored callback (its JSON) into our event: whatever status the
/// unsigned callback claims, bKash is asked.
pub fn normalize(body: &str) -> Option<Normalized> {
    let _: Callback = serde_json::from_str(body).ok()?;
    Some(Normalized::NeedsConfirmation)
}

/// True when an execute answer is final (completed, or a real failure);
/// otherwise the payment's status is queried.
pub fn execute_is_final(v: &Value) -> bool {
    text(v, "statusCode").as_deref() == Some("0000")
}

/// Reads an execute or payment/status answer: `transactionStatus:
/// "Completed"` with `statusCode: "0000"` is a payment.
pub fn parse_payment(v: &Value) -> Confirmation {
    let code = text(v, "statusCode").unwrap_or_default();
    let tx = text(v, "transactionStatus").unwrap_or_default();
    let status = match (code.as_str(), tx.as_str()) {
        ("0000", "Completed") => ConfirmedStatus::Paid,
        ("0000", "Initiated" | "Authorized") => ConfirmedStatus::Unknown(tx.clone()),
        ("0000", other) => ConfirmedStatus::Failed(other.to_owned()),
        (code, _) => ConfirmedStatus::Failed(format!("statusCode {code}")),
    };
    Confirmation {
        status,
        invoice_no: text(v, "merchantInvoiceNumber"),
        paid: Paid { amount: text(v, "amount").and_then(|a| a.parse::<Decimal>().ok()), currency: text(v, "currency") },
        risky: false,
    }
}

/// The body of tokenized checkout's `create` (mode `0011`: a payment
/// without an agreement): OUR order's amount, currency and invoice; bKash
/// sends the buyer back to our callback, which triggers `execute`.
pub fn create_body(order: &SessionOrder, callback_url: &str) -> Value {
    serde_json::json!({
        "mode": "0011",
        "payerReference": order.customer_phone,
        "callbackURL": callback_url,
        "amount": order.amount.to_string(),
        "currency": order.currency,
        "intent": "sale",
        "merchantInvoiceNumber": order.invoice_no,
    })
}

/// Reads `create`'s answer: `statusCode "0000"` with `paymentID` and
/// `bkashURL` is a session; another code is bKash's refusal.
pub fn parse_create(v: &Value) -> Result<Session, Refusal> {
    match (text(v, "statusCode").as_deref(), text(v, "bkashURL"), text(v, "paymentID")) {
        (Some("0000"), Some(url), Some(id)) if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(Session { redirect_url: url, gateway_ref: id })
        }
        (Some(code), _, _) if code != "0000" => {
            Err(Refusal::Refused(format!("statusCode {code}: {}", text(v, "statusMessage").unwrap_or_default())))
        }
        _ => Err(Refusal::Malformed("no statusCode 0000 with paymentID and bkashURL".into())),
    }
}

/// Reads a `token/grant` or `token/refresh` answer received at `now`.
pub fn parse_token(v: &Value, now: chrono::DateTime<chrono::Utc>) -> Result<IssuedToken, Refusal> {
    super::parse_issued_token(v, "id_token", now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completed_execute_is_a_payment_of_its_amount() {
        let v = serde_json::json!({"statusCode": "0000", "statusMessage": "Successful", "paymentID": "TR0011",
            "trxID": "BFD90JRLST", "transactionStatus": "Completed", "amount": "900", "currency": "BDT",
            "intent": "sale", "merchantInvoiceNumber": "INV-000001"});
        let c = parse_payment(&v);
        assert_eq!(c.status, ConfirmedStatus::Paid);
        assert_eq!(c.invoice_no.as_deref(), Some("INV-000001"));
        assert_eq!(c.paid.amount, Some(Decimal::new(900, 0)));
    }

    #[test]
    fn an_error_code_is_a_failure_and_the_callback_parses() {
        let c = parse_payment(&serde_json::json!({"statusCode": "2056", "statusMessage": "Invalid Payment State"}));
        assert_eq!(c.status, ConfirmedStatus::Failed("statusCode 2056".into()));
        let cb = parse_callback("paymentID=TR0011&status=success&signature=x").expect("parses");
        assert_eq!(cb.payment_id, "TR0011");
        assert!(parse_callback("status=success").is_err());
    }

    #[test]
    fn a_token_is_reused_until_five_minutes_before_its_end_then_refreshed() {
        use super::super::{TokenStep, token_step};
        let now = chrono::Utc::now();
        let token = |ends_in: i64, refresh: Option<&str>| IssuedToken {
            id_token: "t".into(),
            refresh_token: refresh.map(str::to_owned),
            expires_at: now + chrono::Duration::seconds(ends_in),
        };
        assert_eq!(token_step(None, now), TokenStep::Grant);
        assert_eq!(token_step(Some(&token(301, Some("r"))), now), TokenStep::Use);
        assert_eq!(token_step(Some(&token(300, Some("r"))), now), TokenStep::Refresh("r".into()));
        assert_eq!(token_step(Some(&token(-10, None)), now), TokenStep::Grant);
        let issued =
            parse_token(&serde_json::json!({"id_token": "abc", "expires_in": 3600, "refresh_token": "r"}), now);
        assert_eq!(issued.map(|t| t.expires_at), Ok(now + chrono::Duration::hours(1)));
    }

    #[test]
    fn create_answers_a_session_or_bkashs_refusal() {
        let ok = serde_json::json!({"statusCode": "0000", "paymentID": "TR0011ABC", "bkashURL": "https://sandbox.payment.bkash.com/?paymentId=TR0011ABC"});
        assert_eq!(parse_create(&ok).map(|s| s.gateway_ref), Ok("TR0011ABC".into()));
        let no = serde_json::json!({"statusCode": "2023", "statusMessage": "Insufficient Balance"});
        assert_eq!(parse_create(&no), Err(Refusal::Refused("statusCode 2023: Insufficient Balance".into())));
        assert!(matches!(parse_create(&serde_json::json!({"paymentID": "x"})), Err(Refusal::Malformed(_))));
    }
}
