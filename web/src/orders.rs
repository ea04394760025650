//! A member's orders: the list (newest first, with status and figures) and
//! one order with its lines, its status history and what each reported
//! fact did. An order that is not the member's is not found.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use haat_domain::catalog::products;
use haat_domain::checkout::shipments::{self, Shipment, ShipmentStatus};
use haat_domain::error::{DomainError, DomainResult};
use haat_domain::money::{VOLUME_SCALE, format};
use haat_domain::orders::{self, Order, OrderSummary};
use maud::{Markup, html};
use std::collections::HashMap;
use uuid::Uuid;

use crate::invoice;
use crate::member::{self, Whose};
use crate::pages::{answer, frame};
use crate::sign_in::failed;
use crate::{WebState, session};

use crate::words::{self, t};

/// Orders the list shows.
const SHOWN: i64 = 50;

use crate::words::money;

/// `GET /app/members/{id}/orders`.
pub async fn list(State(state): State<WebState>, Path(id): Path<Uuid>, headers: HeaderMap) -> Response {
    let zone = state.settings.time_zone;
    let render = move |whose: &Whose, list: &Vec<OrderSummary>| render_list(zone, whose, list);
    member::page(&state, &headers, id, "orders", move |c| orders::list_for_member(c, id, None, SHOWN).boxed(), render)
        .await
}

fn render_list(zone: chrono_tz::Tz, whose: &Whose, list: &[OrderSummary]) -> Markup {
    html! {
        (whose.tabs("orders"))
        @if list.is_empty() {
            p { (t("No orders yet.")) }
        } @else {
            table #orders {
                caption { (t("Orders, newest first")) }
                thead { tr { th scope="col" { (t("Invoice")) } th scope="col" { (t("Placed")) } th scope="col" { (t("Status")) } th scope="col" { (t("Total")) } th scope="col" { "PV" } th scope="col" { "BV" } } }
                tbody {
                    @for o in list {
                        tr data-order=(o.id) {
                            td { a href=(format!("/app/members/{}/orders/{}", whose.id, o.id)) { (o.invoice_no) } }
                            td { (words::day(o.created_at.with_timezone(&zone).date_naive())) }
                            td.status { (t(o.status.as_str())) }
                            td.amount { (money(o.total)) }
                            td { (words::number(format(o.pv, VOLUME_SCALE))) }
                            td { (words::number(format(o.bv, VOLUME_SCALE))) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /app/members/{id}/orders/{order}`.
pub async fn show(
    State(state): State<WebState>,
    Path((id, order)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Response {
    let (session, whose) = match member::open(&state, &headers, id).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let read = async {
        let (o, labels) = own_order(&state, id, order).await?;
        let parcels = shipments::of_order(&mut *state.reads.acquire().await?, order).await?;
        DomainResult::Ok((o, labels, parcels))
    };
    match read.await {
        Ok((o, labels, parcels)) => {
            let title = format!("{} {}", t("Order"), o.invoice_no);
            let body = html! { (render_order(&state, &whose, &o, &labels)) (render_parcels(id, &o, &parcels)) };
            answer(StatusCode::OK, frame(&title, Some(&session), body))
        }
        Err(DomainError::NotFound(_)) => session::not_found(),
        Err(e) => failed(&e),
    }
}

/// Member `member`'s order `order` with its products' labels; another
/// member's order is not found.
async fn own_order(state: &WebState, member: Uuid, order: Uuid) -> DomainResult<(Order, HashMap<Uuid, String>)> {
    let mut conn = state.reads.acquire().await?;
    if orders::owner_of(&mut conn, order).await? != member {
        return Err(DomainError::NotFound("order"));
    }
    let o = orders::get(&mut conn, order).await?;
    let ids: Vec<Uuid> = o.lines.iter().map(|l| l.product_id).collect();
    let labels = products::labels(&mut conn, &ids).await?;
    Ok((o, labels))
}

/// Where the order's parcel is, and its printable invoice.
fn render_parcels(member: Uuid, o: &Order, parcels: &[Shipment]) -> Markup {
    html! {
        section #parcel {
            h2 { (t("Delivery")) }
            @for s in parcels.iter().filter(|s| s.status == ShipmentStatus::Booked) {
                p { (s.courier.label()) " · " (t("Tracking number")) ": "
                    strong.tracking { (s.tracking_number.as_deref().unwrap_or_default()) } }
            }
            p { a #invoice-link href=(format!("/app/members/{member}/orders/{}/invoice", o.id)) { (t("Print the invoice")) } }
        }
    }
}

/// `GET /app/members/{id}/orders/{order}/invoice`: the order's invoice,
/// the document the API serves, in the reader's language.
pub async fn invoice(
    State(state): State<WebState>,
    Path((id, order)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Response {
    if let Err(answer) = member::open(&state, &headers, id).await {
        return answer;
    }
    match own_order(&state, id, order).await {
        Ok((o, labels)) => {
            let s = &state.settings;
            let doc = invoice::Document {
                order: &o,
                products: &labels,
                shop: invoice::Shop { name: &s.shop_name, address: &s.shop_address },
                zone: s.time_zone,
            };
            let page = invoice::render(&doc, invoice::Variant::Invoice, invoice::Paper::A4, words::language());
            ([(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
        }
        Err(DomainError::NotFound(_)) => session::not_found(),
        Err(e) => failed(&e),
    }
}

fn render_order(state: &WebState, whose: &Whose, o: &Order, labels: &HashMap<Uuid, String>) -> Markup {
    let zone = state.settings.time_zone;
    let at = |at: chrono::DateTime<chrono::Utc>| words::day_time(at, zone);
    html! {
        (whose.tabs("orders"))
        dl.figures {
            dt { (t("Status")) } dd #order-status { (t(o.status.as_str())) }
            dt { (t("Paid by")) } dd { (o.payment_method.as_str()) }
            dt { (t("Subtotal")) } dd { (money(o.subtotal)) }
            dt { (t("Discount")) } dd { (money(o.discount)) }
            dt { (t("Store credit")) } dd { (money(o.store_credit)) }
            dt { (t("Total")) } dd #order-total { (money(o.total)) }
            dt { "PV / BV" } dd { (words::number(format(o.pv, VOLUME_SCALE))) " / " (words::number(format(o.bv, VOLUME_SCALE))) }
        }
        table #lines {
            caption { (t("Lines")) }
            thead { tr { th scope="col" { (t("Product")) } th scope="col" { (t("Units")) } th scope="col" { (t("Unit price")) } th scope="col" { (t("Line total")) } th scope="col" { (t("Returned")) } } }
            tbody {
                @for l in &o.lines {
                    tr {
                        td { (labels.get(&l.product_id).map_or("?", String::as_str)) }
                        td { (words::number(l.quantity)) }
                        td.amount { (money(l.unit_price)) }
                        td.amount { (money(l.line_total)) }
                        td { (words::number(l.reversed_quantity)) }
                    }
                }
            }
        }
        section {
            h2 { (t("History")) }
            ol #history {
                @for h in &o.history {
                    li { (at(h.at)) " · " (t(h.status.as_str())) }
                }
            }
        }
    }
}
