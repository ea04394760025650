//! Bar charts drawn on the server as SVG: nothing to load, readable
//! without JavaScript, and each with its figures as a table beside it
//! (for screen readers, and for anyone who wants the exact amounts).
//! Values are stacked when there is more than one series.

use maud::{Markup, html};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::words::t;

/// Series colours, each at least 3:1 against the white page.
const COLOURS: [&str; 6] = ["#0b5c3b", "#1d4ed8", "#b45309", "#7c3aed", "#be123c", "#374151"];
/// The drawing's size (it scales with the page).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
/// Room for the labels under the bars and the scale on top.
const BOTTOM: f64 = 24.0;
const TOP: f64 = 20.0;

/// One bar: its label and one value per series.
pub struct Bar {
    /// Under the bar (a day, a month).
    pub label: String,
    /// One per series, in the series' order.
    pub values: Vec<Decimal>,
}

/// A chart of `bars` (stacked by `series`), titled `caption`, amounts
/// written by `amount`.
pub fn bars(
    (id, caption, key): (&str, &str, &str),
    series: &[&str],
    bars: &[Bar],
    amount: impl Fn(Decimal) -> String,
) -> Markup {
    let total = |b: &Bar| b.values.iter().copied().filter(|v| v.is_sign_positive()).sum::<Decimal>();
    let top = bars.iter().map(total).max().unwrap_or_default();
    let scale = top.to_f64().filter(|t| *t > 0.0).map_or(0.0, |t| (HEIGHT - BOTTOM - TOP) / t);
    let slot = WIDTH / bars.len().max(1) as f64;
    let title = format!("{caption}; the highest bar is {}", amount(top));
    html! {
        figure.chart id=(id) {
            figcaption { (caption) }
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-labelledby=(format!("{id}-title")) {
                title id=(format!("{id}-title")) { (title) }
                text x="0" y="12" font-size="11" fill="#1b1f24" { (amount(top)) }
                line x1="0" y1=(HEIGHT - BOTTOM) x2=(WIDTH) y2=(HEIGHT - BOTTOM) stroke="#4a5560" stroke-width="1" {}
                @for (i, bar) in bars.iter().enumerate() {
                    @let x = i as f64 * slot + slot * 0.15;
                    @for (y, h, colour) in stack(bar, scale) {
                        rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{:.1}", slot * 0.7))
                            height=(format!("{h:.1}")) fill=(colour) {}
                    }
                    text x=(format!("{:.1}", x + slot * 0.35)) y=(HEIGHT - 8.0) font-size="10" text-anchor="middle" fill="#1b1f24" {
                        (bar.label)
                    }
                }
            }
            @if series.len() > 1 {
                ul.legend {
                    @for (s, name) in series.iter().enumerate() {
                        li { span.swatch style=(format!("background:{}", COLOURS[s % COLOURS.len()])) {} (name) }
                    }
                }
            }
            details {
                summary { (t("The figures")) }
                table {
                    caption { (caption) }
                    thead { tr { th scope="col" { (key) } @for name in series { th scope="col" { (name) } } } }
                    tbody {
                        @for bar in bars {
                            tr { th scope="row" { (bar.label) } @for v in &bar.values { td.amount { (amount(*v)) } } }
                        }
                    }
                }
            }
        }
    }
}

/// A bar's segments, bottom up: where each starts (top edge), how tall,
/// its colour; values of nothing or less are not drawn.
fn stack(bar: &Bar, scale: f64) -> Vec<(f64, f64, &'static str)> {
    let mut base = HEIGHT - BOTTOM;
    let mut drawn = Vec::new();
    for (s, value) in bar.values.iter().enumerate() {
        let h = value.to_f64().filter(|v| *v > 0.0).unwrap_or(0.0) * scale;
        if h > 0.0 {
            base -= h;
            drawn.push((base, h, COLOURS[s % COLOURS.len()]));
        }
    }
    drawn
}
