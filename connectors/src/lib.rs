//! haat's calls to providers' server APIs, shared by the api (which opens
//! payment sessions while the storefront waits) and the worker (which
//! confirms payments): SSLCommerz's session and validation APIs, bKash's
//! token, create, execute and payment status. Never called inside a
//! database transaction. What is sent and what the answers mean is decided
//! in `haat_domain::integrations::providers`; this crate only carries it.

mod bkash_token;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use haat_domain::checkout::payments::{Gateway, Session, SessionOrder};
use haat_domain::integrations::providers::{Confirmation, SessionRefused, bkash, sslcommerz};
use haat_platform::settings::ProviderSettings;
use serde_json::{Value, json};

/// How many times a session is asked for when the gateway cannot be
/// reached or answers nonsense, before the attempt is given up.
pub const SESSION_TRIES: u32 = 3;

/// Why a call gave no answer to act on.
#[derive(Debug)]
pub enum CallError {
    /// Timed out, refused the connection, or answered 5xx: worth asking again.
    Unreachable(String),
    /// Answered, but not as documented: asked again a few times.
    Malformed(String),
    /// Answered no: asking again will not help.
    Refused(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(why) => write!(f, "could not be reached: {why}"),
            Self::Malformed(what) => write!(f, "answered something unexpected: {what}"),
            Self::Refused(why) => write!(f, "refused: {why}"),
        }
    }
}

impl std::error::Error for CallError {}

impl From<SessionRefused> for CallError {
    fn from(r: SessionRefused) -> Self {
        match r {
            SessionRefused::Refused(why) => Self::Refused(why),
            SessionRefused::Malformed(what) => Self::Malformed(what),
        }
    }
}

/// The HTTP client, the provider settings and bKash's cached token: one
/// per process.
pub struct Connectors {
    http: reqwest::Client,
    cfg: ProviderSettings,
    /// Our public address, for the callbacks a gateway is given.
    public_url: String,
    bkash_token: bkash_token::Cache,
}

impl Connectors {
    /// Builds the client; `public_url` is where providers reach us.
    pub fn new(cfg: ProviderSettings, public_url: &str) -> Result<Self> {
        let http =
            reqwest::Client::builder().timeout(cfg.timeout).build().context("building the provider HTTP client")?;
        Ok(Self { http, cfg, public_url: public_url.trim_end_matches('/').to_owned(), bkash_token: Default::default() })
    }

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
        let answer = call(self.http.get(url), "SSLCommerz validation API").await?;
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
        let token = self.bkash_token.current(&self.http, &self.cfg).await?;
        let request = self
            .http
            .post(format!("{}/tokenized/checkout/{path}", self.cfg.bkash_base_url))
            .header("Authorization", token)
            .header("X-APP-Key", self.cfg.bkash_app_key.clone())
            .json(&body);
        call(request, &format!("bKash {path}")).await
    }
}

/// Sends `request` and reads its JSON answer. Errors leave the address
/// out: SSLCommerz's validation address carries the store password.
async fn call(request: reqwest::RequestBuilder, what: &str) -> Result<Value, CallError> {
    let response = request.send().await.map_err(|e| CallError::Unreachable(format!("{what}: {}", e.without_url())))?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(CallError::Unreachable(format!("{what}: HTTP {status}")));
    }
    if !status.is_success() {
        return Err(CallError::Refused(format!("{what}: HTTP {status}")));
    }
    response.json::<Value>().await.map_err(|e| CallError::Malformed(format!("{what}: {}", e.without_url())))
}
