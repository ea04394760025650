//! The office's reports: each finance report of the API over the days
//! asked, shown as tables, and its CSV to download — both asked of the API
//! itself in process (the same figures, the same streamed file), with the
//! configured admin token the page never shows. The page only checks that
//! an admin asks and which report; the API checks the rest and names what
//! is wrong.

use axum::body::Body;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use crate::pages::{answer, frame};
use crate::sign_in::{bad_field, failed};
use crate::words::{self, t};
use crate::{WebState, session};

/// The reports the page offers: their word and the API's route.
const REPORTS: [(&str, &str); 5] = [
    ("sales", "/v1/admin/reports/sales"),
    ("commissions", "/v1/admin/reports/commissions"),
    ("liabilities", "/v1/admin/reports/liabilities"),
    ("payouts", "/v1/admin/reports/payouts"),
    ("top-earners", "/v1/admin/reports/top-earners"),
];

/// What the form asks.
#[derive(Deserialize)]
pub struct Asked {
    report: Option<String>,
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
}

/// The API query of what was asked (the report's own fields only).
fn api_query(asked: &Asked, csv: bool) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (key, value) in [("from", &asked.from), ("to", &asked.to), ("group_by", &asked.group_by)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            pairs.push((key, v));
        }
    }
    if csv {
        pairs.push(("format", "csv"));
    }
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// Asks the API for `route?query` as the office.
async fn ask(state: &WebState, route: &str, query: &str) -> Response {
    let request = Request::get(format!("{route}?{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {}", state.settings.admin_token))
        .body(Body::empty());
    match request {
        Ok(request) => (state.api)(request).await,
        Err(e) => failed(&e),
    }
}

/// `GET /app/reports?report=&from=&to=&group_by=`.
pub async fn page(State(state): State<WebState>, Query(asked): Query<Asked>, headers: HeaderMap) -> Response {
    let session = match session::admin(&state, &headers).await {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let chosen = asked.report.as_deref().and_then(|r| REPORTS.iter().find(|(word, _)| *word == r));
    let figures = match (asked.report.as_deref(), chosen) {
        (None, _) => None,
        (Some(_), None) => return bad_field("report", "is not one of the reports"),
        (Some(_), Some((_, route))) => {
            let answered = ask(&state, route, &api_query(&asked, false)).await;
            let status = answered.status();
            let body = axum::body::to_bytes(answered.into_body(), usize::MAX).await.unwrap_or_default();
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if !status.is_success() {
                let field = json["errors"][0]["field"].as_str().unwrap_or("report");
                let problem =
                    json["errors"][0]["message"].as_str().or(json["detail"].as_str()).unwrap_or("was refused");
                return bad_field(field, problem);
            }
            let file = ask(&state, route, &api_query(&asked, true)).await;
            let file = axum::body::to_bytes(file.into_body(), usize::MAX).await.unwrap_or_default();
            Some((json, file))
        }
    };
    let body = render(&asked, figures.as_ref(), &api_query(&asked, true));
    answer(StatusCode::OK, frame(t("Reports"), Some(&session), body))
}

/// `GET /app/reports/csv?…`: the API's CSV file of the report, as is.
pub async fn csv(State(state): State<WebState>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    if let Err(answer) = session::admin(&state, &headers).await {
        return answer;
    }
    let query = query.unwrap_or_default();
    let asked: Asked = match serde_urlencoded::from_str(&query) {
        Ok(asked) => asked,
        Err(_) => return bad_field("report", "is not one of the reports"),
    };
    let Some((_, route)) = asked.report.as_deref().and_then(|r| REPORTS.iter().find(|(word, _)| *word == r)) else {
        return bad_field("report", "is not one of the reports");
    };
    let answered = ask(&state, route, &api_query(&asked, true)).await;
    if answered.status().is_success() {
        answered
    } else {
        (StatusCode::UNPROCESSABLE_ENTITY, answered.into_body()).into_response()
    }
}

fn render(asked: &Asked, figures: Option<&(Value, axum::body::Bytes)>, csv_query: &str) -> Markup {
    let report = asked.report.as_deref().unwrap_or("sales");
    html! {
        form #report-form method="get" action="/app/reports" {
            label for="report" { (t("Report")) }
            select #report name="report" {
                @for (word, _) in REPORTS {
                    option value=(word) selected[word == report] { (word) }
                }
            }
            label for="from" { (t("From")) }
            input #from name="from" type="date" value=(asked.from.as_deref().unwrap_or(""));
            label for="to" { (t("To (not included)")) }
            input #to name="to" type="date" value=(asked.to.as_deref().unwrap_or(""));
            label for="group_by" { (t("Grouped by (day, month, kind, level, member, product, status, method)")) }
            input #group_by name="group_by" value=(asked.group_by.as_deref().unwrap_or(""));
            button type="submit" { (t("Show")) }
        }
        @if let Some((json, file)) = figures {
            p { a #csv href=(format!("/app/reports/csv?report={report}&{csv_query}")) { (t("Download as CSV")) } }
            (rows_table(file))
            (summary(json))
        }
    }
}

/// Rows a page shows; a longer report (a member per row) is read whole
/// from its CSV.
const ROWS_SHOWN: usize = 500;

/// The report's rows as the CSV file has them: its header, in its order,
/// the first [`ROWS_SHOWN`] of them.
fn rows_table(file: &[u8]) -> Markup {
    let mut reader = csv::Reader::from_reader(file);
    let columns: Vec<String> = reader.headers().map(|h| h.iter().map(str::to_owned).collect()).unwrap_or_default();
    let mut records = reader.records().filter_map(Result::ok);
    let rows: Vec<Vec<String>> =
        records.by_ref().take(ROWS_SHOWN).map(|r| r.iter().map(str::to_owned).collect()).collect();
    let more = records.count();
    html! {
        @if more > 0 {
            p #report-more { (words::tf("The first 500 rows; {} more are in the CSV.", more)) }
        }
        // Wide reports scroll sideways; the region takes the keyboard's focus so it can be scrolled without a mouse.
        div.scroll role="region" aria-label=(t("Rows")) tabindex="0" {
            table #report-rows {
                caption { (t("Rows")) }
                thead { tr { @for c in &columns { th scope="col" { (c) } } } }
                tbody {
                    @for row in &rows {
                        tr { @for cell in row { td { (scalar(&Value::String(cell.clone()))) } } }
                    }
                }
            }
        }
    }
}

/// What the report says beside its rows: its heading (interval, zone,
/// freshness) and each object of figures (the totals) as a list.
fn summary(report: &Value) -> Markup {
    let Some(fields) = report.as_object() else { return html! {} };
    html! {
        dl.figures {
            @for (key, value) in fields.iter().filter(|(_, v)| !v.is_object() && !v.is_array()) {
                dt { (key) } dd { (scalar(value)) }
            }
        }
        @for (key, object) in fields.iter().filter_map(|(k, v)| v.as_object().map(|o| (k, o))) {
            section {
                h2 { (key) }
                dl.figures id=(format!("report-{key}")) {
                    @for (k, v) in object { dt { (k) } dd { (scalar(v)) } }
                }
            }
        }
    }
}

/// A JSON value in one cell: numbers and decimal strings in the reader's digits.
fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::String(s) if s.parse::<rust_decimal::Decimal>().is_ok() => words::number(s),
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => value.to_string(),
        other => words::number(other),
    }
}
