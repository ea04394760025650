//! The dashboard: server-rendered pages, mounted by `haat-api` under
//! `/app`, readable without JavaScript and loading nothing from outside
//! (its one stylesheet is served from here). Every figure comes from the
//! same `domain` reads as the JSON routes; no business rule lives in a
//! page or a handler.
//!
//! Built so far: sign-in (the admin key; a member's emailed one-time
//! link) and sign-out; the admin's month overview and payout queue; a
//! member's wallet, commission lines in words, team tree opened a level
//! at a time, and withdrawals (request, status). A member sees only its
//! own pages; the office sees every member's. The other pages of the
//! dashboard are not built yet (ARCHITECTURE.md).

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use haat_platform::settings::Settings;
use sqlx::PgPool;

mod audit;
mod campaigns;
mod cashback;
mod catalogue;
mod chart;
mod commissions;
mod cookies;
pub mod invoice;
mod jobs;
mod member;
mod office;
mod once;
mod orders;
mod overview;
mod pages;
mod payouts;
mod plans;
mod points;
mod reports;
mod sellers;
mod session;
mod share;
mod sign_in;
mod team;
mod wallet;
mod withdrawals;
mod words;

/// A request served by the API in process: how the report pages read the
/// same reports (JSON, streamed CSV) as the API's clients, with nothing
/// of the reports written twice.
pub type ApiCall =
    Arc<dyn Fn(axum::extract::Request) -> futures::future::BoxFuture<'static, axum::response::Response> + Send + Sync>;

/// What the pages share.
#[derive(Clone)]
pub struct WebState {
    /// The database (sessions are written here).
    pub pool: PgPool,
    /// Where reads that may lag go (the replica when one is configured).
    pub reads: PgPool,
    /// Validated settings (zone, currency).
    pub settings: Arc<Settings>,
    /// SHA-256 of the configured admin token, compared in constant time.
    pub admin_token_digest: [u8; 32],
    /// The API, for the report pages.
    pub api: ApiCall,
}

/// The dashboard's routes, to be nested under `/app`.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(overview::page))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-in/email", post(sign_in::email_link))
        .route("/sign-in/link", get(sign_in::confirm_link).post(sign_in::spend_link))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/members", get(office::search))
        .route("/members/{id}", get(wallet::page))
        .route("/members/{id}/status", post(office::set_status))
        .route("/members/{id}/placement", post(office::place))
        .route("/catalogue", get(catalogue::page))
        .route("/reports", get(reports::page))
        .route("/reports/csv", get(reports::csv))
        .route("/plans", get(plans::page))
        .route("/plans/{id}/activate", post(plans::activate))
        .route("/plans/{id}/simulation", get(plans::simulation))
        .route("/campaigns", get(campaigns::page).post(campaigns::create))
        .route("/campaigns/{id}/{step}", post(campaigns::step))
        .route("/audit", get(audit::page))
        .route("/jobs", get(jobs::page))
        .route("/jobs/{id}/retry", post(jobs::retry))
        .route("/members/{id}/commissions", get(commissions::page))
        .route("/members/{id}/team", get(team::page))
        .route("/members/{id}/orders", get(orders::list))
        .route("/members/{id}/points", get(points::page))
        .route("/members/{id}/cashback", get(cashback::page))
        .route("/members/{id}/share", get(share::page))
        .route("/members/{id}/orders/{order}", get(orders::show))
        .route("/members/{id}/orders/{order}/invoice", get(orders::invoice))
        .route("/members/{id}/withdrawals", get(withdrawals::page).post(withdrawals::request))
        .route("/sellers", get(sellers::office))
        .route("/sellers/{id}", get(sellers::page))
        .route("/sellers/{id}/lines/{line}/prepared", post(sellers::prepared))
        .route("/sellers/{id}/{step}", post(sellers::step))
        .route("/fee-schedules", post(sellers::create))
        .route("/fee-schedules/{id}/activate", post(sellers::activate))
        .route("/payouts", get(payouts::page))
        .route("/payouts/{id}/{step}", post(payouts::step))
        .route("/assets/htmx.min.js", get(pages::htmx))
        .route("/language", post(pages::switch_language))
        .route("/assets/app.css", get(pages::stylesheet))
        .route("/assets/fonts/noto-sans-bengali-400.woff2", get(pages::bengali_regular))
        .route("/assets/fonts/noto-sans-bengali-700.woff2", get(pages::bengali_bold))
        .layer(axum::middleware::from_fn(words::layer))
        .with_state(state)
}
