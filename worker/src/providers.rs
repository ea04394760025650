//! Calls to payment providers' server APIs, made from the worker (never in
//! a request, never inside a database transaction): SSLCommerz's validation
//! API and bKash's execute / payment status. What the answers mean is
//! decided in `haat_domain::integrations::providers`.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use haat_domain::integrations::providers::{self, Confirmation, bkash, sslcommerz};
use haat_platform::settings::ProviderSettings;
use serde_json::{Value, json};

/// The longest we wait for a provider; a slow one is retried by the job.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(20);

/// An HTTP client for provider calls.
pub fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder().timeout(PROVIDER_TIMEOUT).build().context("building the provider HTTP client")
}

/// Sends `request` and reads its JSON answer. Errors leave the address out:
/// SSLCommerz's validation address carries the store password.
async fn answer_of(request: reqwest::RequestBuilder, what: &str) -> Result<Value> {
    let answer = async { request.send().await?.error_for_status()?.json::<Value>().await };
    answer.await.map_err(|e| anyhow::anyhow!("{what}: {}", e.without_url()))
}

/// Asks the provider of a stored payment hint what really happened.
/// Returns the parsed answer and the raw one (kept on the event).
pub async fn confirm(
    http: &reqwest::Client,
    cfg: &ProviderSettings,
    provider: &str,
    body: &str,
) -> Result<(Confirmation, Value)> {
    match provider {
        "sslcommerz" => confirm_sslcommerz(http, cfg, body).await,
        "bkash" => confirm_bkash(http, cfg, body).await,
        other => bail!("provider {other} has no confirmation API"),
    }
}

async fn confirm_sslcommerz(
    http: &reqwest::Client,
    cfg: &ProviderSettings,
    body: &str,
) -> Result<(Confirmation, Value)> {
    let url = sslcommerz::validation_url(
        &cfg.sslcommerz_base_url,
        body,
        &cfg.sslcommerz_store_id,
        &cfg.sslcommerz_store_password,
    )
    .context("the stored IPN has no val_id")?;
    let answer = answer_of(http.get(url), "SSLCommerz validation API").await?;
    Ok((sslcommerz::parse_validation(&answer), answer))
}

async fn confirm_bkash(http: &reqwest::Client, cfg: &ProviderSettings, body: &str) -> Result<(Confirmation, Value)> {
    let callback: bkash::Callback = serde_json::from_str(body).context("stored bKash callback")?;
    let token = bkash_token(http, cfg).await?;
    let call = |path: &str| {
        http.post(format!("{}/tokenized/checkout/{path}", cfg.bkash_base_url))
            .header("Authorization", token.clone())
            .header("X-APP-Key", cfg.bkash_app_key.clone())
            .json(&json!({ "paymentID": callback.payment_id }))
    };
    let executed = answer_of(call("execute"), "bKash execute").await?;
    if bkash::execute_is_final(&executed) {
        return Ok((bkash::parse_payment(&executed), executed));
    }
    // Executed before (or timed out): the payment's status is the truth.
    let status = answer_of(call("payment/status"), "bKash payment status").await?;
    Ok((bkash::parse_payment(&status), status))
}

async fn bkash_token(http: &reqwest::Client, cfg: &ProviderSettings) -> Result<String> {
    let grant = http
        .post(format!("{}/tokenized/checkout/token/grant", cfg.bkash_base_url))
        .header("username", cfg.bkash_username.clone())
        .header("password", cfg.bkash_password.clone())
        .json(&json!({ "app_key": cfg.bkash_app_key, "app_secret": cfg.bkash_app_secret }));
    let answer = answer_of(grant, "bKash token grant").await?;
    match answer.get("id_token").map(providers::scalar_text) {
        Some(t) if !t.is_empty() => Ok(t),
        _ => bail!("bKash token grant answered without id_token"),
    }
}
