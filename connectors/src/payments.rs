//! Payment sessions and payment confirmations.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use haat_domain::checkout::payments::{Gateway, Session, SessionOrder};
use haat_domain::integrations::providers::{Confirmation, IssuedToken, bkash, sslcommerz};
use serde_json::{Value, json};

use crate::{CallError, Connectors, call, call_expecting_success};

/// How many times a session is asked for when the gateway cannot be
/// reached or answers nonsense, before the attempt is given up.
pub const SESSION_TRIES: u32 = 3;

impl Connectors {
    /// Opens a payment session at `gateway` for `order`, asking up to
    /// [`SESSION_TRIES`] times while the gateway cannot be reached or
    /// answers nonsense (a session request charges nothing, so asking
    /// again is safe; the buyer only ever gets the session that answered).
    pub async fn open_session(&self, gateway: Gateway, order: &SessionOrder) -> Result<Session, CallError> {
        let mut pause = Duration::from_millis(250);
        let mut tries = 1;
        loop {
            let outcome = match gateway {
                Gateway::Sslcommerz => self.sslcommerz_session(order).await,
                Gateway::Bkash => self.bkash_create(order).await,
            };
            match outcome {
                Err(e @ (CallError::Unreachable(_) | CallError::Malformed(_))) if tries < SESSION_TRIES => {
                    tracing::warn!(%gateway, invoice_no = order.invoice_no, tries, error = %e, "payment session: asking again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    async fn sslcommerz_session(&self, order: &SessionOrder) -> Result<Session, CallError> {
        let ipn_url = format!("{}/v1/webhooks/payments/sslcommerz", self.public_url);
        let cx = sslcommerz::SessionContext {
            store_id: &self.cfg.sslcommerz_store_id,
            store_password: &self.cfg.sslcommerz_store_password,
            ipn_url: &ipn_url,
        };
        let url = format!("{}{}", self.cfg.sslcommerz_base_url, sslcommerz::SESSION_PATH);
        let answer =
            call(self.http.post(url).form(&sslcommerz::session_form(order, cx)), "SSLCommerz session API").await?;
        Ok(sslcommerz::parse_session(&answer)?)
    }

    async fn bkash_create(&self, order: &SessionOrder) -> Result<Session, CallError> {
        let callback = format!("{}/v1/webhooks/payments/bkash", self.public_url);
        let answer = self.bkash_call("create", bkash::create_body(order, &callback)).await?;
        Ok(bkash::parse_create(&answer)?)
    }

    /// Asks the provider of a stored payment hint what really happened.
    /// Returns the parsed answer and the raw one (kept on the event).
    pub async fn confirm(&self, provider: &str, body: &str) -> Result<(Confirmation, Value)> {
        match provider {
            "sslcommerz" => self.confirm_sslcommerz(body).await,
            "bkash" => self.confirm_bkash(body).await,
            other => bail!("provider {other} has no confirmation API"),
        }
    }

    async fn confirm_sslcommerz(&self, body: &str) -> Result<(Confirmation, Value)> {
        let cfg = &self.cfg;
        let url = sslcommerz::validation_url(
            &cfg.sslcommerz_base_url,
            body,
            &cfg.sslcommerz_store_id,
            &cfg.sslcommerz_store_password,
        )
        .context("the stored IPN has no val_id")?;
        let answer = call_expecting_success(self.http.get(url), "SSLCommerz validation API").await?;
        Ok((sslcommerz::parse_validation(&answer), answer))
    }

    async fn confirm_bkash(&self, body: &str) -> Result<(Confirmation, Value)> {
        let callback: bkash::Callback = serde_json::from_str(body).context("stored bKash callback")?;
        let payment = json!({ "paymentID": callback.payment_id });
        let executed = self.bkash_call("execute", payment.clone()).await?;
        if bkash::execute_is_final(&executed) {
            return Ok((bkash::parse_payment(&executed), executed));
        }
        // Executed before (or timed out): the payment's status is the truth.
        let status = self.bkash_call("payment/status", payment).await?;
        Ok((bkash::parse_payment(&status), status))
    }

    /// A tokenized checkout call with the cached grant token.
    async fn bkash_call(&self, path: &str, body: Value) -> Result<Value, CallError> {
        let token = self.bkash_token.current("bkash", |refresh| self.bkash_token_answer(refresh)).await?;
        let request = self
            .http
            .post(format!("{}/tokenized/checkout/{path}", self.cfg.bkash_base_url))
            .header("Authorization", token)
            .header("X-APP-Key", self.cfg.bkash_app_key.clone())
            .json(&body);
        // bKash answers its refusals with 200 and a statusCode: any other
        // answer is a failure to retry, never a payment state.
        call_expecting_success(request, &format!("bKash {path}")).await
    }

    /// `token/grant`, or `token/refresh` with a refresh token.
    async fn bkash_token_answer(&self, refresh_token: Option<String>) -> Result<IssuedToken, CallError> {
        let cfg = &self.cfg;
        let mut body = json!({ "app_key": cfg.bkash_app_key, "app_secret": cfg.bkash_app_secret });
        let what = match &refresh_token {
            Some(r) => {
                body["refresh_token"] = json!(r);
                "refresh"
            }
            None => "grant",
        };
        let request = self
            .http
            .post(format!("{}/tokenized/checkout/token/{what}", cfg.bkash_base_url))
            .header("username", cfg.bkash_username.clone())
            .header("password", cfg.bkash_password.clone())
            .json(&body);
        let answer = call(request, &format!("bKash token {what}")).await?;
        Ok(bkash::parse_token(&answer, chrono::Utc::now())?)
    }
}
