//! `haat-worker`: job processes. `HAAT_WORKER_QUEUES` (e.g.
//! `webhooks=4,commission=2`) chooses queues and concurrency; default: all.

use haat_domain::settings::Settings;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let settings = Settings::from_env()?;
    let queues = haat_worker::parse_queues(&std::env::var("HAAT_WORKER_QUEUES").unwrap_or_default())?;
    tracing::info!(?settings, ?queues, "starting haat-worker");
    haat_worker::run(settings, queues, shutdown_signal()).await
}

/// Resolves on SIGTERM or Ctrl-C.
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
