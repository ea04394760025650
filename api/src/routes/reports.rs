//! Finance reports (admin): the same figures as JSON or, with `format=csv`
//! or `Accept: text/csv`, as a CSV attachment. Each is read in one
//! read-only snapshot.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use haat_domain::reports::Interval;
use haat_domain::reports::liabilities::{self, Liabilities};
use haat_domain::reports::sales::{self, Sales, SalesGroup};
use serde::Deserialize;

use super::Routes;
use crate::AppState;
use crate::csv_export;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, Query};
use utoipa_axum::routes;

/// Report routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(liabilities_report)).routes(routes!(sales_report))
}

/// `?from=&to=&time_zone=&format=` of every report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Range {
    /// Inclusive start: a date (`2026-11-01`, midnight in `time_zone`) or an RFC 3339 time.
    from: Option<String>,
    /// Exclusive end, as `from`; at most 3660 days after it.
    to: Option<String>,
    /// IANA time zone (default the deployment's).
    time_zone: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` also asks for CSV.
    format: Option<String>,
}

impl Range {
    fn interval(&self, state: &AppState) -> ApiResult<Interval> {
        Ok(Interval::parse(
            self.from.as_deref(),
            self.to.as_deref(),
            self.time_zone.as_deref(),
            state.settings.time_zone,
        )?)
    }
}

/// `?group_by=` of a report that groups its rows.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Grouping {
    /// How rows are grouped (each report lists its words; the first is the default).
    group_by: Option<String>,
}

/// Sales by day, product, category or seller (admin).
#[utoipa::path(get, path = "/v1/admin/reports/sales", tag = "reports", params(Range, Grouping),
    responses((status = 200, description = "One row per group and the totals; an order counts when paid (cod: \
        delivered), a reversal of a paid order when recorded. As CSV the rows only: interval_start, interval_end, \
        then the row's fields in order",
        content((Sales = "application/json"), (String = "text/csv")))))]
async fn sales_report(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(range): Query<Range>,
    Query(grouping): Query<Grouping>,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let interval = range.interval(&state)?;
    let group_by = SalesGroup::parse_param(grouping.group_by.as_deref())?;
    let csv = csv_export::wanted(range.format.as_deref(), &headers)?;
    let mut tx = state.pool.begin().await?;
    haat_platform::db::snapshot(&mut tx).await?;
    let report = sales::sales(&mut tx, &interval, group_by, &state.settings.currency).await?;
    tx.rollback().await?;
    if !csv {
        return Ok(Json(to_json(&report)?).into_response());
    }
    let header = ["key", "orders", "units", "gross", "discounts", "store_credit", "refunds", "net", "pv", "bv"];
    let rows = report.rows.iter().map(|r| {
        let money = [r.gross, r.discounts, r.store_credit, r.refunds, r.net].map(|m| m.to_string());
        let mut row = vec![r.key.clone().unwrap_or_default(), r.orders.to_string(), r.units.to_string()];
        row.extend(money);
        row.extend([r.pv.to_string(), r.bv.to_string()]);
        row
    });
    csv_export::attachment(&format!("sales_by_{}", group_by.as_str()), &interval, &header, rows)
}

/// What the shop owes its members: a roll-forward per account bucket (admin).
#[utoipa::path(get, path = "/v1/admin/reports/liabilities", tag = "reports", params(Range),
    responses((status = 200, description = "Opening, movements by entry kind and closing of each bucket; \
        as CSV one row per figure: interval_start, interval_end, account, kind (opening, an entry kind, closing), amount",
        content((Liabilities = "application/json"), (String = "text/csv")))))]
async fn liabilities_report(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(range): Query<Range>,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let interval = range.interval(&state)?;
    let csv = csv_export::wanted(range.format.as_deref(), &headers)?;
    let mut tx = state.pool.begin().await?;
    haat_platform::db::snapshot(&mut tx).await?;
    let report = liabilities::roll_forward(&mut tx, &interval, &state.settings.currency).await?;
    tx.rollback().await?;
    if !csv {
        return Ok(Json(to_json(&report)?).into_response());
    }
    csv_export::attachment("liabilities", &interval, &["account", "kind", "amount"], liability_rows(&report))
}

/// One row per figure: the opening, each movement, the closing.
fn liability_rows(report: &Liabilities) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for b in &report.accounts {
        let account = b.account.as_str().to_owned();
        rows.push(vec![account.clone(), "opening".into(), b.opening.to_string()]);
        for m in &b.movements {
            rows.push(vec![account.clone(), m.kind.as_str().into(), m.amount.to_string()]);
        }
        rows.push(vec![account, "closing".into(), b.closing.to_string()]);
    }
    rows
}
