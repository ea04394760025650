//! `haat-worker`: job processes, or the audit.
//!
//! - `haat-worker [--queues webhooks,commission=4] [--concurrency N]`:
//!   serves the queues (default: `HAAT_WORKER_QUEUES`, else all), each with
//!   its concurrency, until SIGTERM.
//! - `haat-worker audit`: checks the whole database (DESIGN §10), prints
//!   every violation, exits 1 if there is any.

use haat_domain::audit;
use haat_platform::settings::Settings;
use haat_platform::{db, runtime};
use haat_worker::cli::{self, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_tracing()?;
    let shutdown = runtime::shutdown_signal();
    let settings = Settings::from_env()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse(&args, &std::env::var("HAAT_WORKER_QUEUES").unwrap_or_default())? {
        Command::Run(queues) => {
            tracing::info!(?settings, ?queues, "starting haat-worker");
            haat_worker::run(settings, queues, shutdown).await
        }
        Command::Audit => {
            let clean = run_audit(&settings).await?;
            std::process::exit(if clean { 0 } else { 1 });
        }
    }
}

/// Prints each check and its violations; returns whether all hold.
async fn run_audit(settings: &Settings) -> anyhow::Result<bool> {
    let url = db::resolve_database_url(settings.database_url.as_deref()).await?;
    let pool = db::connect(&url, 1).await?;
    let mut conn = pool.acquire().await?;
    let checks = audit::run(&mut conn).await?;
    for c in &checks {
        println!("{} {}", if c.ok { "ok  " } else { "FAIL" }, c.name);
        for v in &c.violations {
            println!("     {v}");
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    println!("audit: {} checks, {failed} failed", checks.len());
    Ok(failed == 0)
}
