//! bKash's grant token, kept for the hour it is issued for and refreshed
//! near its end (`bkash::token_step`), rather than granted anew for every
//! call: one per process, shared by its concurrent calls.

use haat_domain::integrations::providers::bkash::{self, GrantToken, TokenStep};
use haat_platform::settings::ProviderSettings;
use serde_json::json;
use tokio::sync::Mutex;

use crate::{CallError, call};

/// The process's token. The lock is held while a new token is asked for,
/// so concurrent calls wait for one grant instead of each asking.
#[derive(Default)]
pub(crate) struct Cache(Mutex<Option<GrantToken>>);

impl Cache {
    /// A token good for a call made now.
    pub(crate) async fn current(&self, http: &reqwest::Client, cfg: &ProviderSettings) -> Result<String, CallError> {
        let mut cached = self.0.lock().await;
        let now = chrono::Utc::now();
        let step = bkash::token_step(cached.as_ref(), now);
        let fresh = match step {
            TokenStep::Use => None,
            TokenStep::Refresh(refresh_token) => match ask(http, cfg, "refresh", Some(&refresh_token)).await {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "bKash token refresh failed: granting a new token");
                    Some(ask(http, cfg, "grant", None).await?)
                }
            },
            TokenStep::Grant => Some(ask(http, cfg, "grant", None).await?),
        };
        if let Some(t) = fresh {
            *cached = Some(t);
        }
        Ok(cached.as_ref().map(|t| t.id_token.clone()).unwrap_or_default())
    }
}

async fn ask(
    http: &reqwest::Client,
    cfg: &ProviderSettings,
    what: &str,
    refresh_token: Option<&str>,
) -> Result<GrantToken, CallError> {
    let mut body = json!({ "app_key": cfg.bkash_app_key, "app_secret": cfg.bkash_app_secret });
    if let Some(r) = refresh_token {
        body["refresh_token"] = json!(r);
    }
    let request = http
        .post(format!("{}/tokenized/checkout/token/{what}", cfg.bkash_base_url))
        .header("username", cfg.bkash_username.clone())
        .header("password", cfg.bkash_password.clone())
        .json(&body);
    let answer = call(request, &format!("bKash token {what}")).await?;
    Ok(bkash::parse_token(&answer, chrono::Utc::now())?)
}
