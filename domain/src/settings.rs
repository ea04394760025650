//! Typed settings from the environment, each with a default that works
//! locally, validated at start-up. Secrets are never printed.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::webhooks::WebhookSecret;

/// The local default admin token (fine on a laptop; set your own anywhere else).
pub const DEFAULT_ADMIN_TOKEN: &str = "haat-dev-admin-token";
/// The local default webhook secret (`whsec_` + base64 of "haat-dev-webhook-secret").
pub const DEFAULT_WEBHOOK_SECRET: &str = "whsec_aGFhdC1kZXYtd2ViaG9vay1zZWNyZXQ=";

/// Everything the processes read from the environment.
#[derive(Clone)]
pub struct Settings {
    /// `DATABASE_URL`; unset means the embedded cluster.
    pub database_url: Option<String>,
    /// `HAAT_API_ADDR` (default 127.0.0.1:8080; port 0 picks a free one).
    pub api_addr: SocketAddr,
    /// `HAAT_ADMIN_TOKEN`: the first admin key.
    pub admin_token: String,
    /// `HAAT_WEBHOOK_SECRET`: Standard Webhooks secret of the generic provider.
    pub webhook_secret: WebhookSecret,
    /// `HAAT_SMTP_URL` (e.g. `smtp://127.0.0.1:2525`); unset means the outbox folder.
    pub smtp_url: Option<String>,
    /// `HAAT_OUTBOX_DIR` (default `.haat/outbox`).
    pub outbox_dir: PathBuf,
    /// `HAAT_MAIL_FROM` (default `haat <no-reply@haat.local>`).
    pub mail_from: String,
    /// `HAAT_CURRENCY` (default BDT): the deployment's one currency.
    pub currency: String,
    /// `HAAT_DB_POOL` (default 10): connections per process.
    pub db_pool: u32,
    /// `HAAT_DEMO_SEED_FILE`: when set, the api seeds the demo into an empty
    /// database at start-up and writes what it made to this file.
    pub demo_seed_file: Option<PathBuf>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("api_addr", &self.api_addr)
            .field("admin_token", &"<secret>")
            .field("webhook_secret", &"<secret>")
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<set>"))
            .field("outbox_dir", &self.outbox_dir)
            .field("currency", &self.currency)
            .field("db_pool", &self.db_pool)
            .field("demo_seed_file", &self.demo_seed_file)
            .finish()
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Settings {
    /// Reads and validates the environment.
    pub fn from_env() -> Result<Self> {
        let api_addr = var("HAAT_API_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .context("HAAT_API_ADDR must be host:port, e.g. 127.0.0.1:8080")?;
        let admin_token = var("HAAT_ADMIN_TOKEN").unwrap_or_else(|| DEFAULT_ADMIN_TOKEN.into());
        if admin_token.len() < 16 {
            bail!("HAAT_ADMIN_TOKEN must be at least 16 characters");
        }
        let secret = var("HAAT_WEBHOOK_SECRET").unwrap_or_else(|| DEFAULT_WEBHOOK_SECRET.into());
        let webhook_secret = WebhookSecret::parse(&secret).map_err(|e| anyhow::anyhow!("HAAT_WEBHOOK_SECRET {e}"))?;
        let currency = var("HAAT_CURRENCY").unwrap_or_else(|| "BDT".into());
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            bail!("HAAT_CURRENCY must be a three-letter ISO 4217 code such as BDT");
        }
        let db_pool = var("HAAT_DB_POOL")
            .map(|v| v.parse::<u32>())
            .transpose()
            .context("HAAT_DB_POOL must be a whole number")?
            .unwrap_or(10);
        if !(1..=200).contains(&db_pool) {
            bail!("HAAT_DB_POOL must be from 1 to 200");
        }
        Ok(Self {
            database_url: var("DATABASE_URL"),
            api_addr,
            admin_token,
            webhook_secret,
            smtp_url: var("HAAT_SMTP_URL"),
            outbox_dir: var("HAAT_OUTBOX_DIR").map(PathBuf::from).unwrap_or_else(|| ".haat/outbox".into()),
            mail_from: var("HAAT_MAIL_FROM").unwrap_or_else(|| "haat <no-reply@haat.local>".into()),
            currency,
            db_pool,
            demo_seed_file: var("HAAT_DEMO_SEED_FILE").map(PathBuf::from),
        })
    }
}
