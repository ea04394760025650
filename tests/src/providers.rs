//! Provider requests as the real gateways and couriers send them
//! (PROVIDERS.md), and the configuration that points haat at the stand-in.

use md5::{Digest, Md5};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::TestApp;
use crate::standin::{
    BKASH_APP_KEY, BKASH_APP_SECRET, BKASH_PASSWORD, BKASH_USERNAME, PATHAO_CLIENT_ID, PATHAO_CLIENT_SECRET,
    PATHAO_PASSWORD, PATHAO_STORE_ID, PATHAO_USERNAME, REDX_API_TOKEN, SSL_STORE_ID, SSL_STORE_PASSWORD,
    STEADFAST_API_KEY, STEADFAST_SECRET_KEY,
};

/// Steadfast's bearer token.
pub const STEADFAST_TOKEN: &str = "test-steadfast-token-4f1c";
/// What Pathao's `X-PATHAO-Signature` carries.
pub const PATHAO_SECRET: &str = "test-pathao-secret-9d2e";
/// What our Pathao handshake answer carries.
pub const PATHAO_INTEGRATION: &str = "test-pathao-integration-77";
/// RedX's `?token=`.
pub const REDX_TOKEN: &str = "test-redx-token-3b8a";

/// The provider settings of a test system, gateways pointed at `base`.
pub fn env(base: &str) -> Vec<(String, String)> {
    [
        ("HAAT_SSLCOMMERZ_BASE_URL", base),
        ("HAAT_SSLCOMMERZ_STORE_ID", SSL_STORE_ID),
        ("HAAT_SSLCOMMERZ_STORE_PASSWORD", SSL_STORE_PASSWORD),
        ("HAAT_BKASH_BASE_URL", base),
        ("HAAT_BKASH_APP_KEY", BKASH_APP_KEY),
        ("HAAT_BKASH_APP_SECRET", BKASH_APP_SECRET),
        ("HAAT_BKASH_USERNAME", BKASH_USERNAME),
        ("HAAT_BKASH_PASSWORD", BKASH_PASSWORD),
        ("HAAT_STEADFAST_TOKEN", STEADFAST_TOKEN),
        ("HAAT_PATHAO_WEBHOOK_SECRET", PATHAO_SECRET),
        ("HAAT_PATHAO_INTEGRATION_SECRET", PATHAO_INTEGRATION),
        ("HAAT_REDX_TOKEN", REDX_TOKEN),
        ("HAAT_STEADFAST_BASE_URL", base),
        ("HAAT_STEADFAST_API_KEY", STEADFAST_API_KEY),
        ("HAAT_STEADFAST_SECRET_KEY", STEADFAST_SECRET_KEY),
        ("HAAT_PATHAO_BASE_URL", base),
        ("HAAT_PATHAO_CLIENT_ID", PATHAO_CLIENT_ID),
        ("HAAT_PATHAO_CLIENT_SECRET", PATHAO_CLIENT_SECRET),
        ("HAAT_PATHAO_USERNAME", PATHAO_USERNAME),
        ("HAAT_PATHAO_PASSWORD", PATHAO_PASSWORD),
        ("HAAT_PATHAO_STORE_ID", PATHAO_STORE_ID),
        ("HAAT_REDX_BASE_URL", base),
        ("HAAT_REDX_API_TOKEN", REDX_API_TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A form-encoded SSLCommerz IPN with `verify_sign` computed as their
/// official sample does, signed with `store_password`.
pub fn sslcommerz_ipn(fields: &[(&str, &str)], store_password: &str) -> String {
    let mut signed: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    signed.push(("store_passwd".into(), md5_hex(store_password)));
    signed.sort();
    let joined = signed.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let keys = fields.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(",");
    let mut all: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    all.push(("verify_sign".into(), md5_hex(&joined)));
    all.push(("verify_key".into(), keys));
    all.extend([("card_type".into(), "BKASH-BKash".into()), ("risk_title".into(), "Safe".into())]);
    serde_urlencoded::to_string(&all).expect("form encodes")
}

/// The fields of a VALID SSLCommerz IPN for `order`, paid in full.
pub fn valid_ipn_fields(order: &Value, val_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("status", "VALID".into()),
        ("tran_id", order["invoice_no"].as_str().unwrap_or_default().into()),
        ("val_id", val_id.into()),
        ("amount", order["total"].as_str().unwrap_or_default().into()),
        ("store_amount", order["total"].as_str().unwrap_or_default().into()),
        ("currency", "BDT".into()),
        ("tran_date", "2026-11-22 10:00:00".into()),
        ("bank_tran_id", format!("BT{val_id}")),
        ("risk_level", "0".into()),
    ]
}

/// What the validation API answers for a valid payment of `amount`.
pub fn validation_answer(order: &Value, val_id: &str, amount: &str) -> Value {
    json!({"status": "VALID", "tran_date": "2026-11-22 10:00:00", "tran_id": order["invoice_no"],
           "val_id": val_id, "amount": amount, "store_amount": amount, "currency": "BDT",
           "bank_tran_id": format!("BT{val_id}"), "card_type": "BKASH-BKash", "currency_type": "BDT",
           "currency_amount": amount, "risk_level": "0", "risk_title": "Safe"})
}

/// A Steadfast delivery-status body.
pub fn steadfast_body(order: &Value, status: &str, updated_at: &str) -> String {
    json!({"notification_type": "delivery_status", "consignment_id": 1424107, "invoice": order["invoice_no"],
           "cod_amount": 900, "status": status, "delivery_charge": 100,
           "tracking_message": "Status changed", "updated_at": updated_at})
    .to_string()
}

/// A Pathao event body.
pub fn pathao_body(order: &Value, event: &str, timestamp: &str) -> String {
    json!({"consignment_id": "DL121224VS8TTJ", "merchant_order_id": order["invoice_no"],
           "updated_at": "2026-11-22 10:00:00", "timestamp": timestamp, "store_id": 130820,
           "event": event, "delivery_fee": 60, "collected_amount": 0})
    .to_string()
}

/// A RedX event body.
pub fn redx_body(order: &Value, status: &str, timestamp: &str) -> String {
    json!({"tracking_number": "20A316SHQ8TN", "timestamp": timestamp, "status": status,
           "message_en": "Status changed", "message_bn": "", "invoice_number": order["invoice_no"]})
    .to_string()
}

impl TestApp {
    /// POSTs a provider request (`path` may carry a query) with the given
    /// content type and headers; returns status, headers and body.
    pub async fn provider_post(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).header("content-type", content_type).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("provider request reaches the api");
        let (status, headers) = (res.status(), res.headers().clone());
        let text = res.text().await.unwrap_or_default();
        (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Steadfast posts `body` with `token`.
    pub async fn steadfast(&self, body: String, token: &str) -> (StatusCode, Value) {
        let auth = format!("Bearer {token}");
        let (s, _, v) = self
            .provider_post("/v1/webhooks/couriers/steadfast", "application/json", body, &[("authorization", &auth)])
            .await;
        (s, v)
    }

    /// Pathao posts `body` with `secret` in `X-PATHAO-Signature`.
    pub async fn pathao(&self, body: String, secret: &str) -> (StatusCode, HeaderMap) {
        let headers = [("x-pathao-signature", secret)];
        let (s, h, _) = self.provider_post("/v1/webhooks/couriers/pathao", "application/json", body, &headers).await;
        (s, h)
    }

    /// RedX posts `body` to our callback URL with `token`.
    pub async fn redx(&self, body: String, token: &str) -> StatusCode {
        let path = format!("/v1/webhooks/couriers/redx?token={token}");
        self.provider_post(&path, "application/json", body, &[]).await.0
    }

    /// SSLCommerz posts a form-encoded IPN.
    pub async fn sslcommerz(&self, form: String) -> StatusCode {
        let ct = "application/x-www-form-urlencoded";
        self.provider_post("/v1/webhooks/payments/sslcommerz", ct, form, &[]).await.0
    }

    /// The buyer's browser lands on our bKash callback URL.
    pub async fn bkash_callback(&self, payment_id: &str, status: &str) -> StatusCode {
        self.bkash_callback_answer(payment_id, status).await.0
    }

    /// [`Self::bkash_callback`], with where it sends the browser next (its
    /// `Location`, not followed).
    pub async fn bkash_callback_answer(&self, payment_id: &str, status: &str) -> (StatusCode, Option<String>) {
        let url = format!("{}/v1/webhooks/payments/bkash?paymentID={payment_id}&status={status}", self.base);
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let res = browser.get(url).send().await.expect("callback reaches the api");
        let location = res.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (res.status(), location)
    }

    /// The number of stored webhook events of `provider`.
    pub async fn events_of(&self, provider: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM webhook_events WHERE provider = $1")
            .bind(provider)
            .fetch_one(&self.pool)
            .await
            .expect("count events")
    }

    /// The outcomes of `provider`'s events, oldest first (once processed).
    pub async fn outcomes_of(&self, provider: &str) -> Vec<String> {
        crate::quiescent(&self.pool).await;
        sqlx::query_scalar(
            "SELECT coalesce(outcome, '') FROM webhook_events WHERE provider = $1 ORDER BY received_at, id",
        )
        .bind(provider)
        .fetch_all(&self.pool)
        .await
        .expect("outcomes")
    }
}
