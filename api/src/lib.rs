//! haat's HTTP front (axum): authenticates, validates, writes, enqueues,
//! answers. No business rule lives here: handlers call `haat_domain`.

pub mod csv_export;
pub mod error;
pub mod extract;
pub mod http_metrics;
pub mod idem;
pub mod openapi;
pub mod pdf;
pub mod report_stream;
pub mod routes;
pub mod wakeups;

use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use haat_platform::settings::Settings;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::error::ApiError;

/// Request bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: PgPool,
    /// Where reads that may lag go: the replica when one is configured,
    /// else the same pool.
    pub reads: PgPool,
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// SHA-256 of the configured admin token, compared in constant time.
    pub admin_token_digest: [u8; 32],
    /// The process's metrics, rendered at `/metrics`.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Calls to gateways' server APIs (payment sessions).
    pub connectors: Arc<haat_connectors::Connectors>,
}

impl AppState {
    /// Builds the state.
    pub fn new(
        pool: PgPool,
        settings: Settings,
        metrics: metrics_exporter_prometheus::PrometheusHandle,
    ) -> Result<Self> {
        let admin_token_digest = Sha256::digest(settings.admin_token.as_bytes()).into();
        let connectors = Arc::new(haat_connectors::Connectors::new(settings.providers.clone(), &settings.public_url)?);
        Ok(Self { reads: pool.clone(), pool, settings: Arc::new(settings), admin_token_digest, metrics, connectors })
    }
}

/// The whole HTTP surface (and the task that sends its requests'
/// wake-ups: call it in the runtime that serves it).
pub fn router(state: AppState) -> Router {
    let api = layered(routes()).with_state(state.clone());
    // The dashboard's report pages read the same reports as this API (the
    // same JSON, the same streamed CSV), asked of this router in process.
    let inner = api.clone();
    let call: haat_web::ApiCall = Arc::new(move |request| {
        let inner = inner.clone();
        Box::pin(async move { tower::ServiceExt::oneshot(inner, request).await.unwrap_or_else(|never| match never {}) })
    });
    let web = haat_web::router(haat_web::WebState {
        pool: state.pool.clone(),
        reads: state.reads.clone(),
        settings: state.settings.clone(),
        admin_token_digest: state.admin_token_digest,
        api: call,
    });
    // The dashboard answers its own HTML pages, errors included: it gets
    // the process's layers but not the problem+json rewriting of the API.
    let web = web
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(error::panicked))
        .layer(axum::middleware::from_fn(http_metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    // Starts the wake-up sender: called once, by `serve`, in its runtime.
    let waker = haat_domain::jobs::wakes::Coalescing::start(state.pool.clone());
    api.nest("/app", web).layer(axum::middleware::from_fn_with_state(waker, wakeups::after_request))
}

/// Every route, and the OpenAPI document of the same routes.
fn routes() -> Router<AppState> {
    let (router, _) = documented_routes().split_for_parts();
    router.fallback(|| async { ApiError::not_found("route") }).method_not_allowed_fallback(|| async {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", "this route does not take that method")
    })
}

/// The OpenAPI document as `/openapi.json` serves it (`haat-api openapi`
/// prints it, so a client can be generated without a running server).
pub fn openapi_json() -> String {
    let (_, doc) = documented_routes().split_for_parts();
    openapi::document(doc).to_pretty_json().expect("the OpenAPI document serializes")
}

/// Every documented route: each carries its own OpenAPI path.
fn documented_routes() -> routes::Routes {
    routes::Routes::new()
        .merge(routes::members::router())
        .merge(routes::catalog::router())
        .merge(routes::campaigns::router())
        .merge(routes::loyalty::router())
        .merge(routes::challenges::router())
        .merge(routes::business_accounts::router())
        .merge(routes::analytics::router())
        .merge(routes::coupons::router())
        .merge(routes::flash_sales::router())
        .merge(routes::plans::router())
        .merge(routes::orders::router())
        .merge(routes::payments::router())
        .merge(routes::shipments::router())
        .merge(routes::invoices::router())
        .merge(routes::sellers::router())
        .merge(routes::fee_schedules::router())
        .merge(routes::events::router())
        .merge(routes::pickup_points::router())
        .merge(routes::periods::router())
        .merge(routes::wallet::router())
        .merge(routes::webhooks::router())
        .merge(routes::withdrawals::router())
        .merge(routes::keys::router())
        .merge(routes::jobs::router())
        .merge(routes::reports::router())
        .merge(routes::ops::router())
        .routes(utoipa_axum::routes!(http_metrics::render))
        .routes(utoipa_axum::routes!(openapi::serve_document))
        .routes(utoipa_axum::routes!(openapi::docs_page))
        .routes(utoipa_axum::routes!(openapi::redoc_script))
}

/// What every route is wrapped in: a panic answers a problem+json 500
/// (never a dropped connection), axum's own rejections become
/// problem+json, requests are counted, bodies are limited.
fn layered(routes: Router<AppState>) -> Router<AppState> {
    routes
        .layer(axum::middleware::map_response(error::problem_json_everywhere))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(error::panicked))
        .layer(axum::middleware::from_fn(http_metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Connects, migrates, binds and serves until `shutdown` resolves. Prints
/// the bound address on stdout (port 0 picks a free one).
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
    let metrics = haat_platform::observability::install()?;
    let url = haat_platform::db::resolve_database_url(settings.database_url.as_deref()).await?;
    let pool = haat_platform::db::connect_waking_after_commit(&url, settings.db_pool).await?;
    haat_platform::db::migrate(&pool).await?;
    if let Some(path) = &settings.demo_seed_file {
        let (seeded, queues) = haat_domain::jobs::wakes::collect(seed_demo(&pool, &settings.currency, path)).await;
        seeded?;
        haat_domain::jobs::wakes::send(&pool, &queues).await?;
    }
    let listener =
        TcpListener::bind(settings.api_addr).await.with_context(|| format!("binding {}", settings.api_addr))?;
    let addr = listener.local_addr()?;
    println!("haat-api listening on http://{addr}");
    tracing::info!(%addr, "listening");
    let replica = match &settings.replica_url {
        Some(url) => {
            Some(haat_platform::db::connect(url, settings.db_pool).await.context("connecting to the replica")?)
        }
        None => None,
    };
    let mut state = AppState::new(pool, settings, metrics)?;
    if let Some(replica) = replica {
        state.reads = replica;
    }
    // The dashboard counts sign-in attempts by the client's address.
    let service = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown).await.context("serving HTTP")
}

/// Seeds the demo into an empty database and writes what it made to `path`
/// (for `scripts/demo.py`). An already seeded database is left alone.
async fn seed_demo(pool: &PgPool, currency: &str, path: &std::path::Path) -> Result<()> {
    let mut tx = pool.begin().await?;
    let seeded = haat_domain::demo::seed_if_empty(&mut tx, currency).await?;
    tx.commit().await?;
    if let Some(seed) = seeded {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(&seed)?)
            .with_context(|| format!("writing {}", path.display()))?;
        tracing::info!(path = %path.display(), "demo data seeded");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("a bug in a handler")
    }

    #[tokio::test]
    async fn a_handler_that_panics_answers_a_problem_json_500_and_the_next_request_is_served() {
        let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://127.0.0.1:1/none").expect("lazy pool");
        let settings = Settings::from_env().expect("default settings");
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder().handle();
        let routes = Router::new()
            .route("/boom", axum::routing::get(boom))
            .route("/fine", axum::routing::get(|| async { "fine" }));
        let app = layered(routes).with_state(AppState::new(pool, settings, metrics).expect("state"));
        let res =
            app.clone().oneshot(Request::get("/boom").body(Body::empty()).expect("request")).await.expect("answer");
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body = axum::body::to_bytes(res.into_body(), 4096).await.expect("body");
        let problem: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(problem["status"], 500);
        assert!(!problem.to_string().contains("a bug in a handler"), "a 5xx never leaks internals: {problem}");
        let res = app.oneshot(Request::get("/fine").body(Body::empty()).expect("request")).await.expect("answer");
        assert_eq!(res.status(), StatusCode::OK);
    }
}
