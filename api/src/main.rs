//! `haat-api`: the HTTP front. Configuration comes from the environment
//! (see the README); with no `DATABASE_URL` it starts the embedded database.

use std::io::Write;

use haat_domain::settings::Settings;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let settings = Settings::from_env()?;
    tracing::info!(?settings, "starting haat-api");
    let result = haat_api::run(settings, shutdown_signal()).await;
    std::io::stdout().flush().ok();
    result
}

/// Resolves on SIGTERM or Ctrl-C, letting in-flight requests finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
