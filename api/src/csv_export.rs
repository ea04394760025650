//! Reports as CSV files a finance tool opens as they are: one header row,
//! the interval's bounds as the first two columns of every row, amounts as
//! plain decimals in major units, and an attachment named after the report,
//! its interval and its time zone.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haat_domain::reports::Interval;

use crate::error::{ApiError, ApiResult};

/// Whether the client asked for CSV: `format=csv`, or `Accept: text/csv`
/// without `format`. Any other `format` than `json` or `csv` is refused.
pub fn wanted(format: Option<&str>, headers: &HeaderMap) -> ApiResult<bool> {
    match format {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(_) => Err(ApiError::field(StatusCode::BAD_REQUEST, "format", "must be json or csv")),
        None => Ok(headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().starts_with("text/csv")))),
    }
}

/// The first two columns of every row.
pub const BOUNDS: [&str; 2] = ["interval_start", "interval_end"];

/// The interval's bounds as every row starts: RFC 3339 in the report's zone.
pub fn bounds(interval: &Interval) -> [String; 2] {
    let zone = interval.time_zone;
    [interval.from.with_timezone(&zone).to_rfc3339(), interval.to.with_timezone(&zone).to_rfc3339()]
}

/// The content type and the attachment's name: the report, its interval
/// and its time zone (`sales_by_day_2026-11-01T0000_2026-12-01T0000_Asia-Dhaka.csv`).
pub fn file_headers(report: &str, interval: &Interval) -> ApiResult<Vec<(header::HeaderName, HeaderValue)>> {
    let zone = interval.time_zone;
    let stamp = |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&zone).format("%Y-%m-%dT%H%M").to_string();
    let name =
        format!("{report}_{}_{}_{}.csv", stamp(interval.from), stamp(interval.to), zone.name().replace('/', "-"));
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).map_err(internal)?;
    Ok(vec![
        (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
        (header::CONTENT_DISPOSITION, disposition),
    ])
}

/// A small report's whole file: `header` after the bounds, then each row
/// after the interval's bounds.
pub fn attachment<I>(report: &str, interval: &Interval, header: &[&str], rows: I) -> ApiResult<Response>
where
    I: IntoIterator<Item = Vec<String>>,
{
    let bounds = bounds(interval);
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(BOUNDS.iter().chain(header)).map_err(internal)?;
    for row in rows {
        out.write_record(bounds.iter().chain(row.iter())).map_err(internal)?;
    }
    let body = out.into_inner().map_err(|e| internal(e.into_error()))?;
    let mut response = body.into_response();
    for (name, value) in file_headers(report, interval)? {
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

fn internal(e: impl Into<anyhow::Error>) -> ApiError {
    ApiError::from(haat_domain::DomainError::Internal(e.into()))
}
