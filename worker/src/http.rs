//! The worker's own small HTTP surface for operators: liveness, readiness
//! (database reachable, migrations applied) and Prometheus metrics (job
//! runs, failures and durations by queue; queue depth by queue and status).

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

#[derive(Clone)]
struct Ops {
    pool: PgPool,
    metrics: PrometheusHandle,
}

/// Binds `addr` and serves until the process ends; returns the bound
/// address (port 0 picks a free one).
pub async fn serve(addr: SocketAddr, pool: PgPool, metrics: PrometheusHandle) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(render))
        .with_state(Ops { pool, metrics });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the worker's HTTP server stopped");
        }
    });
    Ok(bound)
}

async fn ready(State(ops): State<Ops>) -> (StatusCode, &'static str) {
    match haat_platform::db::migrations_applied(&ops.pool).await {
        Ok(true) => (StatusCode::OK, "ready"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "not ready"),
    }
}

async fn render(State(ops): State<Ops>) -> String {
    haat_platform::observability::render(&ops.metrics, &ops.pool).await
}
