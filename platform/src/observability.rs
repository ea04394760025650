//! Prometheus metrics, shared by both binaries: the recorder, and the
//! queue-depth gauges read from the job table when `/metrics` is scraped.
//! Counters and timings are recorded where things happen (the api's
//! middleware and webhook route, the worker's job wrapper) with the
//! `metrics` macros.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sqlx::{PgPool, Row};

/// Installs the process-wide recorder (once) and returns its handle.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    Ok(PrometheusBuilder::new().install_recorder()?)
}

/// The metrics in Prometheus text format, with `haat_jobs{queue,status}`
/// set from the job table first. A database error leaves the gauges as
/// they were (the scrape still answers).
pub async fn render(handle: &PrometheusHandle, pool: &PgPool) -> String {
    // The job table is the queue library's: checked at run time.
    let rows = sqlx::query("SELECT job_type, status, count(*) AS n FROM apalis.jobs GROUP BY job_type, status")
        .fetch_all(pool)
        .await;
    if let Ok(rows) = rows {
        for r in rows {
            let (queue, status, n): (String, String, i64) = (
                r.try_get("job_type").unwrap_or_default(),
                r.try_get("status").unwrap_or_default(),
                r.try_get("n").unwrap_or_default(),
            );
            metrics::gauge!("haat_jobs", "queue" => queue, "status" => status).set(n as f64);
        }
    }
    handle.render()
}
