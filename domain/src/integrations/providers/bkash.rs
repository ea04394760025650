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

use super::{Confirmation, ConfirmedStatus, Normalized, Paid, field_text as text};

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
}
