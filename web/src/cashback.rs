//! The cashback a member received as a buyer: campaigns' and the plan's
//! own on its orders, with what returns took back and whether it is still
//! held (the read is the domain's, `rewards::received`).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::rewards::received::{self, Received};
use maud::{Markup, html};
use uuid::Uuid;

use crate::WebState;
use crate::member::{self, Whose};
use crate::words::{self, t};

/// Cashbacks the page lists.
const SHOWN: i64 = 100;

/// `GET /app/members/{id}/cashback`.
pub async fn page(State(state): State<WebState>, Path(id): Path<Uuid>, headers: HeaderMap) -> Response {
    let zone = state.settings.time_zone;
    member::page(
        &state,
        &headers,
        id,
        "cashback",
        move |c| received::for_member(c, id, SHOWN).boxed(),
        |whose, list| render(zone, whose, list),
    )
    .await
}

fn render(zone: chrono_tz::Tz, whose: &Whose, list: &[Received]) -> Markup {
    html! {
        (whose.tabs("cashback"))
        @if list.is_empty() {
            p { (t("No cashback yet.")) }
        } @else {
            table #cashback {
                caption { (t("Cashback received, newest first")) }
                thead { tr { th scope="col" { (t("From")) } th scope="col" { (t("Order")) } th scope="col" { (t("Amount")) } th scope="col" { (t("Taken back")) } th scope="col" { (t("Status")) } } }
                tbody {
                    @for r in list {
                        tr {
                            td { (r.campaign.as_deref().unwrap_or(t("cashback on your order"))) }
                            td { (r.invoice_no) }
                            td.amount { (words::money(r.amount)) }
                            td.amount { (words::money(r.reversed)) }
                            td.status {
                                @match (r.held, r.release_at) {
                                    (true, Some(at)) => { (t("held until")) " " (words::day(at.with_timezone(&zone).date_naive())) }
                                    (true, None) => { (t("held")) }
                                    (false, _) => { (t("released")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
