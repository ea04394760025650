//! `haat-worker`: job processes. `HAAT_WORKER_QUEUES` (e.g.
//! `webhooks=4,commission=2`) chooses queues and concurrency; default: all.

use haat_domain::runtime;
use haat_domain::settings::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_tracing();
    let settings = Settings::from_env()?;
    let queues = haat_worker::parse_queues(&std::env::var("HAAT_WORKER_QUEUES").unwrap_or_default())?;
    tracing::info!(?settings, ?queues, "starting haat-worker");
    haat_worker::run(settings, queues, runtime::shutdown_signal()).await
}
