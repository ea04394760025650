//! haat's calls to providers' server APIs, shared by the api (which opens
//! payment sessions while the storefront waits) and the worker (which
//! confirms payments and books parcels): `payments` (SSLCommerz's session
//! and validation APIs; bKash's token, create, execute and payment
//! status), `couriers` (Steadfast's `create_order`; Pathao's OAuth token
//! and `orders`; RedX's areas and `parcel`), `tokens` (issued tokens kept
//! and refreshed), `events` (an event delivery posted to its endpoint,
//! to a checked public address). Never called inside a database transaction. What is
//! sent and what the answers mean is decided in
//! `haat_domain::integrations::providers`; this crate only carries it.

mod couriers;
pub mod events;
mod payments;
mod tokens;

use anyhow::{Context, Result};
use haat_domain::integrations::providers::Refusal;
use haat_platform::settings::ProviderSettings;
use serde_json::Value;

pub use payments::SESSION_TRIES;

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

impl From<Refusal> for CallError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Refused(why) => Self::Refused(why),
            Refusal::Malformed(what) => Self::Malformed(what),
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
    bkash_token: tokens::TokenCache,
    pathao_token: tokens::TokenCache,
}

impl Connectors {
    /// Builds the client; `public_url` is where providers reach us.
    pub fn new(cfg: ProviderSettings, public_url: &str) -> Result<Self> {
        let http =
            reqwest::Client::builder().timeout(cfg.timeout).build().context("building the provider HTTP client")?;
        Ok(Self {
            http,
            cfg,
            public_url: public_url.trim_end_matches('/').to_owned(),
            bkash_token: Default::default(),
            pathao_token: Default::default(),
        })
    }
}

/// Sends `request` and reads its JSON answer. A 4xx with a JSON body is
/// an answer too (providers say why they refuse in it; the adapter reads
/// it); unreachable, 5xx and 429 are [`CallError::Unreachable`]. Errors
/// leave the address out: SSLCommerz's validation address carries the
/// store password.
pub(crate) async fn call(request: reqwest::RequestBuilder, what: &str) -> Result<Value, CallError> {
    answer_of(request, what, true).await
}

/// [`call`] for an API whose every answer but a 2xx is a failure to retry
/// (a payment's confirmation: a 4xx is never taken for the payment's state).
pub(crate) async fn call_expecting_success(request: reqwest::RequestBuilder, what: &str) -> Result<Value, CallError> {
    answer_of(request, what, false).await
}

async fn answer_of(request: reqwest::RequestBuilder, what: &str, refusal_has_body: bool) -> Result<Value, CallError> {
    let response = request.send().await.map_err(|e| CallError::Unreachable(format!("{what}: {}", e.without_url())))?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(CallError::Unreachable(format!("{what}: HTTP {status}")));
    }
    if !status.is_success() && !refusal_has_body {
        return Err(CallError::Unreachable(format!("{what}: HTTP {status}")));
    }
    match response.json::<Value>().await {
        Ok(v) => Ok(v),
        Err(_) if !status.is_success() => Err(CallError::Refused(format!("{what}: HTTP {status}"))),
        Err(e) => Err(CallError::Malformed(format!("{what}: {}", e.without_url()))),
    }
}
