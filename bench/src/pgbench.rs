//! The baseline: Postgres's own `pgbench` (TPC-B) against the same cluster,
//! with the same client count for the same time — the ceiling of simple
//! write transactions on this machine, which haat's figures are divided by.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use haat_platform::{db, embedded_pg};

/// Transactions per second of TPC-B (scale 10), `clients` clients over two
/// threads, for `length`; runs in a database of its own, dropped after.
pub async fn tps(server_url: &str, clients: usize, length: Duration) -> Result<f64> {
    let name = format!("haat_pgbench_{}", uuid::Uuid::now_v7().simple());
    db::create_database_if_missing(server_url, &name).await?;
    let url = crate::with_database(server_url, &name);
    let result = run(&url, clients, length).await;
    crate::drop_database(server_url, &name).await?;
    result
}

async fn run(url: &str, clients: usize, length: Duration) -> Result<f64> {
    let pgbench = embedded_pg::server_program("pgbench")?;
    let init = tokio::process::Command::new(&pgbench).args(["-i", "-q", "-s", "10", url]).output().await?;
    if !init.status.success() {
        bail!("pgbench -i failed: {}", String::from_utf8_lossy(&init.stderr));
    }
    let out = tokio::process::Command::new(&pgbench)
        .args(["-c", &clients.to_string(), "-j", "2", "-T", &length.as_secs().max(1).to_string(), url])
        .output()
        .await?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no tps in pgbench's output: {text}"))
}
