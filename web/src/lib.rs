//! The dashboard: server-rendered pages, mounted by `haat-api` under
//! `/app`, readable without JavaScript and loading nothing from outside
//! (its one stylesheet is served from here). Every figure comes from the
//! same `domain` reads as the JSON routes; no business rule lives in a
//! page or a handler.
//!
//! This is its first part: an admin signs in with the admin key and sees
//! this month's overview; a member signs in with an emailed link and sees
//! its wallet; both sign out. The other pages are not built yet.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use haat_platform::settings::Settings;
use sqlx::PgPool;

mod cookies;
mod overview;
mod pages;
mod sign_in;

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
}

/// The dashboard's routes, to be nested under `/app`.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(overview::page))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-in/email", post(sign_in::email_link))
        .route("/sign-in/link", get(sign_in::confirm_link).post(sign_in::spend_link))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/assets/app.css", get(pages::stylesheet))
        .route("/assets/fonts/noto-sans-bengali-400.woff2", get(pages::bengali_regular))
        .route("/assets/fonts/noto-sans-bengali-700.woff2", get(pages::bengali_bold))
        .with_state(state)
}
