//! Prometheus metrics, shared by both binaries: the recorder, and the
//! queue-depth gauges read from the job table when `/metrics` is scraped.
//! Counters and timings are recorded where things happen (the api's
//! middleware and webhook route, the worker's job wrapper) with the
//! `metrics` macros.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;

/// Installs the process-wide recorder (once) and returns its handle.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    Ok(PrometheusBuilder::new().install_recorder()?)
}

/// The metrics in Prometheus text format, with `haat_jobs{queue,status}`
/// set from the job table first. A database error leaves the gauges as
/// they were (the scrape still answers).
pub async fn render(handle: &PrometheusHandle, pool: &PgPool) -> String {
    let depths = match pool.acquire().await {
        Ok(mut conn) => haat_domain::jobs::admin::depths(&mut conn).await,
        Err(e) => Err(e.into()),
    };
    if let Ok(depths) = depths {
        for d in depths {
            metrics::gauge!("haat_jobs", "queue" => d.table, "status" => d.status).set(d.jobs as f64);
        }
    }
    handle.render()
}
