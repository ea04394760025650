//! A member's orders: the list (newest first, with status and figures) and
//! one order with its lines, its status history and what each reported
//! fact did. An order that is not the member's is not found.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use haat_domain::catalog::products;
use haat_domain::error::{DomainError, DomainResult};
use haat_domain::money::display::{Language, taka_of};
use haat_domain::money::{VOLUME_SCALE, format};
use haat_domain::orders::{self, Order, OrderSummary};
use maud::{Markup, html};
use std::collections::HashMap;
use uuid::Uuid;

use crate::member::{self, Whose};
use crate::pages::{answer, frame};
use crate::sign_in::failed;
use crate::{WebState, session};

/// Orders the list shows.
const SHOWN: i64 = 50;

fn money(d: rust_decimal::Decimal) -> String {
    taka_of(d, Language::English)
}

/// `GET /app/members/{id}/orders`.
pub async fn list(State(state): State<WebState>, Path(id): Path<Uuid>, headers: HeaderMap) -> Response {
    let (session, whose) = match member::open(&state, &headers, id).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let listed = async {
        let mut conn = state.reads.acquire().await?;
        orders::list_for_member(&mut conn, id, None, SHOWN).await
    };
    match listed.await {
        Ok(list) => {
            answer(StatusCode::OK, frame(&whose.title("orders"), Some(&session), render_list(&state, &whose, &list)))
        }
        Err(e) => failed(&e),
    }
}

fn render_list(state: &WebState, whose: &Whose, list: &[OrderSummary]) -> Markup {
    let zone = state.settings.time_zone;
    html! {
        (whose.tabs("orders"))
        @if list.is_empty() {
            p { "No orders yet." }
        } @else {
            table #orders {
                caption { "Orders, newest first" }
                thead { tr { th scope="col" { "Invoice" } th scope="col" { "Placed" } th scope="col" { "Status" } th scope="col" { "Total" } th scope="col" { "PV" } th scope="col" { "BV" } } }
                tbody {
                    @for o in list {
                        tr data-order=(o.id) {
                            td { a href=(format!("/app/members/{}/orders/{}", whose.id, o.id)) { (o.invoice_no) } }
                            td { (o.created_at.with_timezone(&zone).format("%-d %b %Y")) }
                            td.status { (o.status.as_str()) }
                            td.amount { (money(o.total)) }
                            td { (format(o.pv, VOLUME_SCALE)) }
                            td { (format(o.bv, VOLUME_SCALE)) }
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
        let mut conn = state.reads.acquire().await?;
        if orders::owner_of(&mut conn, order).await? != id {
            return Err(DomainError::NotFound("order"));
        }
        let o = orders::get(&mut conn, order).await?;
        let ids: Vec<Uuid> = o.lines.iter().map(|l| l.product_id).collect();
        let labels = products::labels(&mut conn, &ids).await?;
        DomainResult::Ok((o, labels))
    };
    match read.await {
        Ok((o, labels)) => {
            let title = format!("Order {}", o.invoice_no);
            answer(StatusCode::OK, frame(&title, Some(&session), render_order(&state, &whose, &o, &labels)))
        }
        Err(DomainError::NotFound(_)) => session::not_found(),
        Err(e) => failed(&e),
    }
}

fn render_order(state: &WebState, whose: &Whose, o: &Order, labels: &HashMap<Uuid, String>) -> Markup {
    let zone = state.settings.time_zone;
    let at = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&zone).format("%-d %b %Y %H:%M").to_string();
    html! {
        (whose.tabs("orders"))
        dl.figures {
            dt { "Status" } dd #order-status { (o.status.as_str()) }
            dt { "Paid by" } dd { (o.payment_method.as_str()) }
            dt { "Subtotal" } dd { (money(o.subtotal)) }
            dt { "Discount" } dd { (money(o.discount)) }
            dt { "Store credit" } dd { (money(o.store_credit)) }
            dt { "Total" } dd #order-total { (money(o.total)) }
            dt { "PV / BV" } dd { (format(o.pv, VOLUME_SCALE)) " / " (format(o.bv, VOLUME_SCALE)) }
        }
        table #lines {
            caption { "Lines" }
            thead { tr { th scope="col" { "Product" } th scope="col" { "Units" } th scope="col" { "Unit price" } th scope="col" { "Line total" } th scope="col" { "Returned" } } }
            tbody {
                @for l in &o.lines {
                    tr {
                        td { (labels.get(&l.product_id).map_or("?", String::as_str)) }
                        td { (l.quantity) }
                        td.amount { (money(l.unit_price)) }
                        td.amount { (money(l.line_total)) }
                        td { (l.reversed_quantity) }
                    }
                }
            }
        }
        section {
            h2 { "History" }
            ol #history {
                @for h in &o.history {
                    li { (at(h.at)) " · " (h.status.as_str()) }
                }
            }
        }
    }
}
