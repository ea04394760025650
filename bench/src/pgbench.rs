//! The baseline: Postgres's own `pgbench` (TPC-B) against the same cluster,
//! with the same client count for the same time — the ceiling of simple
//! write transactions on this machine, which haat's figures are divided by.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use haat_platform::{db, embedded_pg};

/// What pgbench reached: transactions per second, and the machine's CPU
/// per transaction meanwhile (pgbench's own included, as the load
/// generator's is in haat's figures).
#[derive(Debug, Clone, Copy)]
pub struct Baseline {
    /// TPC-B transactions per second.
    pub tps: f64,
    /// Machine CPU per transaction.
    pub cpu_per_tx: Duration,
}

/// TPC-B (scale 10), `clients` clients over two threads, for `length`;
/// runs in a database of its own, dropped after.
pub async fn tps(server_url: &str, clients: usize, length: Duration) -> Result<Baseline> {
    let name = format!("haat_pgbench_{}", uuid::Uuid::now_v7().simple());
    db::create_database_if_missing(server_url, &name).await?;
    let url = crate::with_database(server_url, &name);
    let result = run(&url, clients, length).await;
    crate::drop_database(server_url, &name).await?;
    result
}

async fn run(url: &str, clients: usize, length: Duration) -> Result<Baseline> {
    let pgbench = embedded_pg::server_program("pgbench")?;
    let init = tokio::process::Command::new(&pgbench).args(["-i", "-q", "-s", "10", url]).output().await?;
    if !init.status.success() {
        bail!("pgbench -i failed: {}", String::from_utf8_lossy(&init.stderr));
    }
    let busy = crate::cost::machine_busy_ticks()?;
    let started = std::time::Instant::now();
    let out = tokio::process::Command::new(&pgbench)
        .args(["-c", &clients.to_string(), "-j", "2", "-T", &length.as_secs().max(1).to_string(), url])
        .output()
        .await?;
    let busy = crate::cost::machine_busy_ticks()? - busy;
    let elapsed = started.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    }
    let tps: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no tps in pgbench's output: {text}"))?;
    let transactions = (tps * elapsed).max(1.0);
    let cpu_per_tx = Duration::from_secs_f64(crate::cost::ticks_to_seconds(busy) / transactions);
    Ok(Baseline { tps, cpu_per_tx })
}
