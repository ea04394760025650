//! A member's points and tier: the tier its last twelve months of spending
//! reached, the rate its next order earns, what the next tier needs, and
//! the points it can spend with the day each lot expires.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use futures::FutureExt;
use haat_domain::rewards::loyalty::{self, Standing};
use maud::{Markup, html};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::WebState;
use crate::member::{self, Whose};
use crate::words::{self, t};

/// `GET /app/members/{id}/points`.
pub async fn page(State(state): State<WebState>, Path(id): Path<Uuid>, headers: HeaderMap) -> Response {
    let zone = state.settings.time_zone;
    member::page(
        &state,
        &headers,
        id,
        "points",
        move |c| loyalty::standing(c, id, Utc::now()).boxed(),
        |whose, standing| render(zone, whose, standing),
    )
    .await
}

/// Points in the reader's digits, two places.
fn points(p: Decimal) -> String {
    words::number(haat_domain::money::format(p, haat_domain::money::MONEY_SCALE))
}

fn render(zone: chrono_tz::Tz, whose: &Whose, s: &Standing) -> Markup {
    html! {
        (whose.tabs("points"))
        dl.figures {
            dt { (t("Tier")) } dd #tier { (s.tier.as_ref().map_or(t("none yet"), |tier| tier.name.as_str())) }
            dt { (t("Spent in the last twelve months")) } dd #spend { (words::money(s.spend_12m.0)) }
            dt { (t("The next order earns")) } dd #earn-rate { (words::percent(s.earn_rate.0)) }
            @if let (Some(next), Some(left)) = (&s.next_tier, s.spend_to_next_tier()) {
                dt { (t("Next tier")) } dd #next-tier { (next.name) " (" (words::percent(next.rate.0)) ")" }
                dt { (t("Still to spend for it")) } dd #to-next-tier { (words::money(left.0)) }
            }
            dt { (t("Points to spend")) } dd #points { (points(s.points)) }
            dt { (t("Points still held")) } dd #pending-points { (points(s.pending_points)) }
        }
        section {
            h2 { (t("When points expire")) }
            @if s.lots.is_empty() {
                p { (t("No points to spend yet.")) }
            } @else {
                table #lots {
                    caption { (t("Points by the day they expire, soonest first")) }
                    thead { tr { th scope="col" { (t("Expires")) } th scope="col" { (t("Points")) } } }
                    tbody {
                        @for lot in &s.lots {
                            tr {
                                td { (lot.expires_at.map_or_else(|| "—".to_owned(), |at| words::day(at.with_timezone(&zone).date_naive()))) }
                                td.amount { (points(lot.points)) }
                            }
                        }
                    }
                }
            }
        }
    }
}
