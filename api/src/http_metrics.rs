//! HTTP metrics: every request counted by route, method and status, and
//! timed by route; `/metrics` renders them (with the queue depth) for
//! Prometheus.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The middleware: routes are their templates (`/v1/orders/{id}`), so
/// label values stay few; requests that match no route are `unmatched`.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("haat_http_request_duration_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("haat_http_requests_total", "route" => route, "method" => method, "status" => status)
        .increment(1);
    response
}

/// `GET /metrics` (Prometheus text format, unauthenticated like
/// `/healthz`: counts and timings only).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
pub async fn render(State(state): State<AppState>) -> String {
    haat_platform::observability::render(&state.metrics, &state.pool).await
}
