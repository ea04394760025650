//! The books' checks (the same as `GET /v1/admin/audit` and `haat-worker
//! audit`), run when the office asks: each check, whether it holds, and
//! what breaks it. It reads the whole ledger, so it runs on the button,
//! not on every overview.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::audit::{self, Check};
use maud::{Markup, html};

use crate::words::t;
use crate::{WebState, session};

/// Violations shown per check.
const SHOWN: usize = 20;

/// `GET /app/audit`.
pub async fn page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    session::office_page(&state, &headers, t("Audit"), |c| audit::run(c).boxed(), |_, checks| render(checks)).await
}

fn render(checks: &[Check]) -> Markup {
    let failed = checks.iter().filter(|c| !c.ok).count();
    html! {
        @if failed == 0 {
            p #audit-status role="status" { (t("Every check holds: the books balance.")) }
        } @else {
            p.problem #audit-status role="alert" { (crate::words::tf("{} checks fail.", failed)) }
        }
        table #audit {
            caption { (t("The books' checks")) }
            thead { tr { th scope="col" { (t("Check")) } th scope="col" { (t("Holds")) } th scope="col" { (t("What breaks it")) } } }
            tbody {
                @for c in checks {
                    tr data-check=(c.name) {
                        td { (c.name) }
                        td.status { @if c.ok { (t("yes")) } @else { (t("no")) } }
                        td {
                            @for v in c.violations.iter().take(SHOWN) { (v) br; }
                            @if c.violations.len() > SHOWN { "…" }
                        }
                    }
                }
            }
        }
    }
}
