//! Access tokens a provider issues for a while (bKash's grant token for an
//! hour, Pathao's OAuth token for days), kept and refreshed near their end
//! (`providers::token_step`) rather than asked for on every call: one per
//! provider per process, shared by its concurrent calls.

use std::future::Future;

use haat_domain::integrations::providers::{IssuedToken, TokenStep, token_step};
use tokio::sync::Mutex;

use crate::CallError;

/// A provider's token. The lock is held while a new token is asked for, so
/// concurrent calls wait for one answer instead of each asking.
#[derive(Default)]
pub(crate) struct TokenCache(Mutex<Option<IssuedToken>>);

impl TokenCache {
    /// A token good for a call made now. `ask(Some(refresh token))`
    /// refreshes, `ask(None)` asks for a new one.
    pub(crate) async fn current<F, Fut>(&self, provider: &str, ask: F) -> Result<String, CallError>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<IssuedToken, CallError>>,
    {
        let mut cached = self.0.lock().await;
        let fresh = match token_step(cached.as_ref(), chrono::Utc::now()) {
            TokenStep::Use => None,
            TokenStep::Refresh(refresh_token) => match ask(Some(refresh_token)).await {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(provider, error = %e, "token refresh failed: asking for a new token");
                    Some(ask(None).await?)
                }
            },
            TokenStep::Grant => Some(ask(None).await?),
        };
        if let Some(t) = fresh {
            *cached = Some(t);
        }
        Ok(cached.as_ref().map(|t| t.id_token.clone()).unwrap_or_default())
    }
}
