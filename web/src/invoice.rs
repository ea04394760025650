//! An order's invoice and packing slip as one print-ready HTML document
//! (A4, or A5 for small label printers): the shop's name and address, the
//! invoice number and date, where it goes, the lines, and — on the invoice
//! only — prices, discount, store credit, the total and how it is paid (a
//! cash-on-delivery order says what to collect). Self-contained: the
//! Bengali font is inlined, so the document prints (and the API renders it
//! to PDF) with nothing fetched from anywhere.

use std::collections::HashMap;

use base64::Engine;
use haat_domain::money::display::Language;
use haat_domain::orders::Order;
use haat_domain::rules::order_state::{OrderStatus, PaymentMethod};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use uuid::Uuid;

use crate::words::{self, money, number, t};

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// With prices and the total.
    Invoice,
    /// For the parcel: what is in it, no prices.
    PackingSlip,
}

/// The paper it is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    /// 210 × 297 mm.
    A4,
    /// 148 × 210 mm.
    A5,
}

impl Paper {
    /// The paper named by `?size=` (`a4`, the default, or `a5`).
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "a4" | "A4" => Some(Self::A4),
            "a5" | "A5" => Some(Self::A5),
            _ => None,
        }
    }
}

/// Who is selling.
#[derive(Debug, Clone, Copy)]
pub struct Shop<'a> {
    /// The shop's name.
    pub name: &'a str,
    /// Its address, as printed.
    pub address: &'a str,
}

/// What a document shows of an order.
pub struct Document<'a> {
    /// The order, with its lines.
    pub order: &'a Order,
    /// Each line's product, named with its SKU, by product id.
    pub products: &'a HashMap<Uuid, String>,
    /// The seller.
    pub shop: Shop<'a>,
    /// The deployment's time zone (the invoice date).
    pub zone: chrono_tz::Tz,
}

/// The language a request reads documents in: the dashboard's `haat_lang`
/// cookie, else its `Accept-Language` (a `?lang=` of the API overrides it).
pub fn language_of(headers: &axum::http::HeaderMap) -> Language {
    words::of_request(headers)
}

/// The document as HTML, in `language`, laid out for `paper`.
pub fn render(doc: &Document<'_>, variant: Variant, paper: Paper, language: Language) -> String {
    words::rendered_in(language, || page(doc, variant, paper).into_string())
}

fn page(doc: &Document<'_>, variant: Variant, paper: Paper) -> Markup {
    let o = doc.order;
    let title = match variant {
        Variant::Invoice => t("Invoice"),
        Variant::PackingSlip => t("Packing slip"),
    };
    let address = |k: &str| o.shipping_address.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    html! {
        (DOCTYPE)
        html lang=(words::language().tag()) {
            head {
                meta charset="utf-8";
                title { (title) " " (o.invoice_no) }
                style { (PreEscaped(stylesheet(paper))) }
            }
            body {
                main.document {
                    header {
                        div {
                            h1 { (doc.shop.name) }
                            p.address { (doc.shop.address) }
                        }
                        div.meta {
                            h2 { (title) }
                            dl {
                                dt { (t("Invoice number")) } dd { (o.invoice_no) }
                                dt { (t("Date")) } dd { (words::day(o.created_at.with_timezone(&doc.zone).date_naive())) }
                            }
                        }
                    }
                    section.to {
                        h3 { (t("Deliver to")) }
                        p {
                            (address("name")) br;
                            (address("line1")) br;
                            @if !address("line2").is_empty() { (address("line2")) br; }
                            (address("city")) @if !address("postcode").is_empty() { " " (words::number(address("postcode"))) } br;
                            (words::number(address("phone")))
                        }
                    }
                    (lines(doc, variant))
                    @if variant == Variant::Invoice { (totals(o)) }
                    @if variant == Variant::Invoice { p.thanks { (t("Thank you for your order.")) } }
                }
            }
        }
    }
}

fn lines(doc: &Document<'_>, variant: Variant) -> Markup {
    let priced = variant == Variant::Invoice;
    html! {
        table.lines {
            thead { tr {
                th { (t("Item")) } th.n { (t("Quantity")) }
                @if priced { th.n { (t("Unit price")) } th.n { (t("Amount")) } }
            } }
            tbody {
                @for line in &doc.order.lines {
                    tr {
                        td { (doc.products.get(&line.product_id).map(String::as_str).unwrap_or("—")) }
                        td.n { (number(line.quantity)) }
                        @if priced { td.n { (money(line.unit_price)) } td.n { (money(line.line_total)) } }
                    }
                }
            }
        }
    }
}

fn totals(o: &Order) -> Markup {
    let payment = match (o.payment_method, o.status) {
        (PaymentMethod::Cod, _) => format!("{} {}", t("Cash on delivery: collect"), money(o.total)),
        (PaymentMethod::Online, OrderStatus::PendingPayment | OrderStatus::Cancelled) => {
            t("Online payment not received yet").to_owned()
        }
        (PaymentMethod::Online, _) => t("Paid online").to_owned(),
    };
    html! {
        table.totals {
            tr { th { (t("Subtotal")) } td.n { (money(o.subtotal)) } }
            @if !o.discount.is_zero() { tr { th { (t("Discount")) } td.n { (money(-o.discount)) } } }
            @if !o.store_credit.is_zero() { tr { th { (t("Store credit")) } td.n { (money(-o.store_credit)) } } }
            tr.total { th { (t("Total")) } td.n { (money(o.total)) } }
        }
        p.payment { strong { (t("Payment")) ": " } (payment) }
    }
}

/// The print stylesheet, the Bengali font inlined (regular and bold).
fn stylesheet(paper: Paper) -> String {
    let font = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let regular = font(include_bytes!("../assets/fonts/noto-sans-bengali-bengali-400-normal.woff2"));
    let bold = font(include_bytes!("../assets/fonts/noto-sans-bengali-bengali-700-normal.woff2"));
    let (size, base) = match paper {
        Paper::A4 => ("A4", "11pt"),
        Paper::A5 => ("A5", "9pt"),
    };
    format!(
        r#"@font-face {{ font-family: "haat Bengali"; font-weight: 400; unicode-range: U+0980-09FF; src: url(data:font/woff2;base64,{regular}) format("woff2"); }}
@font-face {{ font-family: "haat Bengali"; font-weight: 700; unicode-range: U+0980-09FF; src: url(data:font/woff2;base64,{bold}) format("woff2"); }}
@page {{ size: {size}; margin: 12mm; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; font: {base}/1.45 "haat Bengali", "DejaVu Sans", sans-serif; color: #111; }}
main.document {{ max-width: 190mm; margin: 0 auto; }}
header {{ display: flex; justify-content: space-between; align-items: flex-start; border-bottom: 2px solid #111; padding-bottom: 4mm; }}
h1 {{ margin: 0; font-size: 1.6em; }} h2 {{ margin: 0 0 2mm; font-size: 1.3em; text-align: right; }} h3 {{ margin: 0 0 1mm; font-size: 1em; }}
.address {{ margin: 1mm 0 0; white-space: pre-line; }}
dl {{ display: grid; grid-template-columns: auto auto; gap: 0 4mm; margin: 0; }} dt {{ font-weight: 700; }} dd {{ margin: 0; text-align: right; }}
section.to {{ margin: 5mm 0; }}
table {{ width: 100%; border-collapse: collapse; }}
table.lines th, table.lines td {{ border-bottom: 1px solid #999; padding: 1.5mm 1mm; text-align: left; }}
table.totals {{ width: auto; margin: 4mm 0 0 auto; }} table.totals th, table.totals td {{ padding: 1mm 2mm; text-align: left; }}
.n {{ text-align: right !important; white-space: nowrap; }}
tr.total th, tr.total td {{ border-top: 2px solid #111; font-weight: 700; }}
.payment {{ margin-top: 4mm; }} .thanks {{ margin-top: 8mm; }}
@media screen {{ body {{ padding: 12mm; background: #eee; }} main.document {{ background: #fff; padding: 12mm; }} }}
"#
    )
}
