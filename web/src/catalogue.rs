//! The office's catalogue: products (price, volume, stock, on sale or
//! not), coupons (what they take off, their window and uses) and flash
//! sales (a product's price for a window). Changing them stays with the
//! API for now.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::catalog::coupons::{self, Coupon, CouponKind};
use haat_domain::catalog::flash_sales::{self, FlashSale};
use haat_domain::catalog::products::{self, Product};
use haat_domain::error::DomainResult;
use maud::{Markup, html};
use std::collections::HashMap;
use uuid::Uuid;

use crate::words::{self, t};
use crate::{WebState, session};

/// Rows each table shows.
const SHOWN: i64 = 100;

/// What the page shows.
type Catalogue = (Vec<Product>, Vec<Coupon>, Vec<FlashSale>, HashMap<Uuid, String>);

/// `GET /app/catalogue`.
pub async fn page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let zone = state.settings.time_zone;
    let render = move |_: &str, c: &Catalogue| render(zone, c);
    session::office_page(&state, &headers, t("Catalogue"), |c| read(c).boxed(), render).await
}

async fn read(c: &mut sqlx::PgConnection) -> DomainResult<Catalogue> {
    let listed = products::list(c, None, SHOWN).await?;
    let coupons = coupons::list(c, None, SHOWN).await?;
    let sales = flash_sales::list(c, None, SHOWN).await?;
    let ids: Vec<Uuid> = sales.iter().map(|s| s.product_id).collect();
    let labels = products::labels(c, &ids).await?;
    Ok((listed, coupons, sales, labels))
}

/// What a coupon takes off: `10%` of the subtotal, or `৳50.00`.
fn takes_off(c: &Coupon) -> String {
    match c.kind {
        CouponKind::Percent => words::percent(c.value),
        CouponKind::Fixed => words::money(c.value),
    }
}

fn render(zone: chrono_tz::Tz, (listed, coupons, sales, labels): &Catalogue) -> Markup {
    let at = |t: chrono::DateTime<chrono::Utc>| words::day_time(t, zone);
    let volume = |d| words::number(haat_domain::money::format(d, haat_domain::money::VOLUME_SCALE));
    html! {
        section {
            h2 { (t("Products")) }
            table #products {
                caption { (t("Products, by id")) }
                thead { tr {
                    th scope="col" { "SKU" } th scope="col" { (t("Name")) } th scope="col" { (t("Price")) }
                    th scope="col" { "PV" } th scope="col" { "BV" } th scope="col" { (t("Stock")) } th scope="col" { (t("On sale")) }
                } }
                tbody {
                    @for p in listed {
                        tr data-sku=(p.sku) {
                            td { (p.sku) } td { (p.name) } td.amount { (words::money(p.price)) }
                            td { (volume(p.pv)) } td { (volume(p.bv)) } td { (words::number(p.stock)) }
                            td { @if p.active { (t("yes")) } @else { (t("no")) } }
                        }
                    }
                }
            }
        }
        section {
            h2 { (t("Coupons")) }
            @if coupons.is_empty() { p { (t("No coupons.")) } } @else {
                table #coupons {
                    caption { (t("Coupons, newest first")) }
                    thead { tr {
                        th scope="col" { (t("Code")) } th scope="col" { (t("Takes off")) } th scope="col" { (t("Window")) }
                        th scope="col" { (t("Used")) } th scope="col" { (t("Least subtotal")) }
                    } }
                    tbody {
                        @for c in coupons {
                            tr data-coupon=(c.code) {
                                td { (c.code) }
                                td { (takes_off(c)) }
                                td { (at(c.starts_at)) " – " (at(c.ends_at)) }
                                td { (words::number(c.uses)) @if let Some(max) = c.max_uses { " / " (words::number(max)) } }
                                td.amount { (words::money(c.min_subtotal)) }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { (t("Flash sales")) }
            @if sales.is_empty() { p { (t("No flash sales.")) } } @else {
                table #flash-sales {
                    caption { (t("Flash sales, newest first")) }
                    thead { tr { th scope="col" { (t("Product")) } th scope="col" { (t("Price")) } th scope="col" { (t("Window")) } } }
                    tbody {
                        @for s in sales {
                            tr {
                                td { (labels.get(&s.product_id).map_or("?", String::as_str)) }
                                td.amount { (words::money(s.price)) }
                                td { (at(s.starts_at)) " – " (at(s.ends_at)) }
                            }
                        }
                    }
                }
            }
        }
    }
}
