//! A member's share links: the join link (who signs up through it is
//! sponsored by the member) and one link per product on sale (a guest's
//! order through it is the member's retail sale). The links are the
//! domain's (`network::sharing`); the storefront's address is `HAAT_SHOP_URL`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::catalog::products::{self, Product};
use haat_domain::network::sharing;
use maud::{Markup, html};
use uuid::Uuid;

use crate::WebState;
use crate::member::{self, Whose};
use crate::words::{self, t};

/// Products the page lists.
const SHOWN: i64 = 100;

/// `GET /app/members/{id}/share`.
pub async fn page(State(state): State<WebState>, Path(id): Path<Uuid>, headers: HeaderMap) -> Response {
    let shop = state.settings.shop_url.clone();
    member::page(
        &state,
        &headers,
        id,
        "share links",
        |c| products::list(c, None, SHOWN).boxed(),
        |whose, listed| {
            let on_sale: Vec<&Product> = listed.iter().filter(|p| p.active).collect();
            render(&shop, whose, &on_sale)
        },
    )
    .await
}

fn render(shop: &str, whose: &Whose, on_sale: &[&Product]) -> Markup {
    let code = whose.member.referral_code.as_str();
    let join = sharing::join_link(shop, code);
    html! {
        (whose.tabs("share"))
        dl.figures {
            dt { (t("Your referral code")) } dd #referral-code { (code) }
            dt { (t("Join link")) } dd { a #join-link href=(join) { (join) } }
        }
        section {
            h2 { (t("Product links")) }
            @if on_sale.is_empty() {
                p { (t("No product is on sale yet.")) }
            } @else {
                table #product-links {
                    caption { (t("A guest's order through these links is your sale")) }
                    thead { tr { th scope="col" { (t("Product")) } th scope="col" { (t("Price")) } th scope="col" { (t("Link")) } } }
                    tbody {
                        @for p in on_sale {
                            @let link = sharing::product_link(shop, &p.sku, code);
                            tr data-sku=(p.sku) {
                                td { (p.name) }
                                td.amount { (words::money(p.price)) }
                                td { a href=(link) { (link) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
