//! A grouped report sent as it is read: its rows go from the database
//! cursor to the socket in chunks, so a report with a row per member costs
//! the api a chunk of memory, not the whole answer. The JSON is the same
//! document the report's schema describes (heading, `group_by`, `rows`,
//! `totals`); the CSV is the same file `csv_export` names.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use haat_domain::error::DomainResult;
use haat_domain::reports::{Grouped, Heading, Interval, RowStream};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;

use crate::csv_export;
use crate::error::{ApiError, ApiResult};

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 * 1024;

/// Chunks in flight between the reader and the socket; a slow client
/// slows the reader instead of filling memory.
const IN_FLIGHT: usize = 4;

/// How a streamed report is answered.
pub struct Shape<R> {
    /// The report's name in a CSV file's name (`commissions_by_member`).
    pub name: String,
    /// The `group_by` word, written after the heading in JSON.
    pub group_by: &'static str,
    /// CSV columns after the interval's bounds.
    pub header: &'static [&'static str],
    /// One group's CSV fields, in `header`'s order.
    pub record: fn(&R) -> Vec<String>,
    /// CSV when `Some` (with the interval the file is named after), else JSON.
    pub csv: Option<Interval>,
}

/// Reads the report with `read` in one read-only snapshot of `pool`, each
/// statement bounded by `limit`, and answers it as it is read. A failure before the first chunk is an error
/// answer; a failure after it cuts the body short, which a client sees as
/// a broken transfer rather than a shorter report.
pub async fn respond<R, F>(pool: &PgPool, limit: Duration, shape: Shape<R>, read: F) -> ApiResult<Response>
where
    R: Serialize + Send + 'static,
    F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, DomainResult<(Heading, RowStream<'c, R>)>>
        + Send
        + 'static,
{
    let (mut sender, mut chunks) = mpsc::channel::<ApiResult<Bytes>>(IN_FLIGHT);
    let content = match shape.csv {
        Some(interval) => csv_export::file_headers(&shape.name, &interval)?,
        None => vec![(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
    };
    let pool = pool.clone();
    tokio::spawn(async move {
        if let Err(e) = produce(pool, limit, shape, read, &mut sender).await {
            // The receiver is gone when the client left: nothing to tell.
            let _ = sender.send(Err(e)).await;
        }
    });
    let first =
        chunks.next().await.ok_or_else(|| internal(anyhow::anyhow!("the report ended without an answer")))??;
    let rest = chunks.map(|chunk| chunk.map_err(|e| std::io::Error::other(format!("{e:?}"))));
    let body = Body::from_stream(futures::stream::once(async move { Ok(first) }).chain(rest));
    let mut response = body.into_response();
    for (name, value) in content {
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

/// Reads the rows and sends them on in chunks, then rolls the snapshot back.
async fn produce<R, F>(
    pool: PgPool,
    limit: Duration,
    shape: Shape<R>,
    read: F,
    out: &mut mpsc::Sender<ApiResult<Bytes>>,
) -> ApiResult<()>
where
    R: Serialize + Send + 'static,
    F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, DomainResult<(Heading, RowStream<'c, R>)>>,
{
    let mut tx = pool.begin().await?;
    haat_platform::db::report_snapshot(&mut tx, limit).await?;
    {
        let (heading, mut rows) = read(&mut tx).await?;
        let mut encoder = Encoder::start(&shape, &heading)?;
        while let Some(row) = rows.next().await {
            encoder.push(row?)?;
            if encoder.buffered() >= CHUNK {
                send(out, encoder.take()?).await?;
            }
        }
        send(out, encoder.finish()?).await?;
    }
    tx.rollback().await?;
    Ok(())
}

async fn send(out: &mut mpsc::Sender<ApiResult<Bytes>>, chunk: Vec<u8>) -> ApiResult<()> {
    out.send(Ok(Bytes::from(chunk))).await.map_err(|_| internal(anyhow::anyhow!("the client left")))
}

/// Writes rows as JSON or CSV into a buffer that is taken chunk by chunk.
enum Encoder<R> {
    /// `{heading…, "group_by": …, "rows": [` … `], "totals": {…}}`.
    Json { buf: Vec<u8>, rows: usize, closed: bool },
    /// One record per group after the interval's bounds; no totals row.
    Csv { out: Box<csv::Writer<Vec<u8>>>, bounds: [String; 2], record: fn(&R) -> Vec<String> },
}

impl<R: Serialize> Encoder<R> {
    fn start(shape: &Shape<R>, heading: &Heading) -> ApiResult<Self> {
        match shape.csv {
            Some(interval) => {
                let mut out = Box::new(csv::Writer::from_writer(Vec::with_capacity(CHUNK)));
                out.write_record(csv_export::BOUNDS.iter().chain(shape.header)).map_err(internal)?;
                Ok(Self::Csv { out, bounds: csv_export::bounds(&interval), record: shape.record })
            }
            None => {
                let serde_json::Value::Object(mut opening) = serde_json::to_value(heading).map_err(internal)? else {
                    return Err(internal(anyhow::anyhow!("a heading is a JSON object")));
                };
                opening.insert("group_by".into(), shape.group_by.into());
                let mut buf = serde_json::to_vec(&opening).map_err(internal)?;
                // Reopen the object to append the rows.
                buf.pop();
                buf.extend_from_slice(b",\"rows\":[");
                Ok(Self::Json { buf, rows: 0, closed: false })
            }
        }
    }

    fn push(&mut self, row: Grouped<R>) -> ApiResult<()> {
        match self {
            Self::Json { closed: true, .. } => Err(internal(anyhow::anyhow!("a report row came after its totals"))),
            Self::Json { buf, rows, closed } => match row {
                Grouped::Group(group) => {
                    if *rows > 0 {
                        buf.push(b',');
                    }
                    *rows += 1;
                    serde_json::to_writer(buf, &group).map_err(internal)
                }
                Grouped::Total(total) => {
                    buf.extend_from_slice(b"],\"totals\":");
                    serde_json::to_writer(&mut *buf, &total).map_err(internal)?;
                    buf.push(b'}');
                    *closed = true;
                    Ok(())
                }
            },
            Self::Csv { out, bounds, record } => match row {
                Grouped::Group(group) => {
                    let fields = record(&group);
                    out.write_record(bounds.iter().chain(fields.iter())).map_err(internal)
                }
                Grouped::Total(_) => Ok(()),
            },
        }
    }

    fn buffered(&self) -> usize {
        match self {
            Self::Json { buf, .. } => buf.len(),
            Self::Csv { out, .. } => out.get_ref().len(),
        }
    }

    fn take(&mut self) -> ApiResult<Vec<u8>> {
        match self {
            Self::Json { buf, .. } => Ok(std::mem::take(buf)),
            Self::Csv { out, .. } => {
                // A fresh writer goes on where this one stopped (records
                // only: the header row was written once, at the start).
                let full = std::mem::replace(&mut **out, csv::Writer::from_writer(Vec::with_capacity(CHUNK)));
                full.into_inner().map_err(|e| internal(e.into_error()))
            }
        }
    }

    fn finish(mut self) -> ApiResult<Vec<u8>> {
        if let Self::Json { closed: false, .. } = self {
            return Err(internal(anyhow::anyhow!("the totals row is missing")));
        }
        self.take()
    }
}

fn internal(e: impl Into<anyhow::Error>) -> ApiError {
    ApiError::from(haat_domain::DomainError::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use haat_domain::money::Money;
    use haat_domain::reports::commissions::{CommissionGroup, CommissionRow, Commissions};

    use super::*;

    fn row(key: Option<String>, paisa: i64) -> CommissionRow {
        let m = Money(rust_decimal::Decimal::new(paisa, 2));
        CommissionRow {
            key,
            accrued: m,
            released: Money::ZERO,
            cancelled_while_held: Money::ZERO,
            clawed_back: Money::ZERO,
            breakage: Money::ZERO,
            rounding: rust_decimal::Decimal::new(12, 6),
            net: m,
        }
    }

    fn interval() -> Interval {
        let from = chrono::Utc.with_ymd_and_hms(2026, 10, 31, 18, 0, 0).single().expect("a time");
        Interval { from, to: from + chrono::Duration::days(30), time_zone: chrono_tz::Asia::Dhaka }
    }

    fn shape(csv: bool) -> Shape<CommissionRow> {
        Shape {
            name: "commissions_by_member".into(),
            group_by: "member",
            header: &["key", "net"],
            record: |r| vec![r.key.clone().unwrap_or_default(), r.net.to_string()],
            csv: csv.then(interval),
        }
    }

    /// Encodes `groups` then their total as the stream would, taking a
    /// chunk whenever one is full; returns the chunks.
    fn encoded(csv: bool, groups: &[CommissionRow], total: &CommissionRow, heading: &Heading) -> Vec<Vec<u8>> {
        let shape = shape(csv);
        let mut encoder = Encoder::start(&shape, heading).expect("starts");
        let mut chunks = Vec::new();
        for g in groups {
            encoder.push(Grouped::Group(g.clone())).expect("a group");
            if encoder.buffered() >= CHUNK {
                chunks.push(encoder.take().expect("a chunk"));
            }
        }
        encoder.push(Grouped::Total(total.clone())).expect("the total");
        chunks.push(encoder.finish().expect("the end"));
        chunks
    }

    #[test]
    fn a_streamed_report_in_many_chunks_is_the_same_json_document_as_the_report_read_whole() {
        let heading = interval().heading("BDT", chrono::Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap());
        let groups: Vec<CommissionRow> = (0..5_000).map(|i| row(Some(format!("member-{i:05}")), 100 + i)).collect();
        // Σ (100 + i) for i below 5,000, in paisa.
        let total = row(None, 12_997_500);
        let chunks = encoded(false, &groups, &total, &heading);
        assert!(chunks.len() > 5, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() < 2 * CHUNK));
        let streamed: serde_json::Value = serde_json::from_slice(&chunks.concat()).expect("one JSON document");
        let whole = Commissions { heading, group_by: CommissionGroup::Member, rows: groups, totals: total };
        assert_eq!(streamed, serde_json::to_value(&whole).expect("json"));
    }

    #[test]
    fn a_streamed_csv_has_one_header_then_one_record_per_group_each_after_the_intervals_bounds() {
        let heading = interval().heading("BDT", chrono::Utc::now());
        let groups: Vec<CommissionRow> = (0..3_000).map(|i| row(Some(format!("m{i}")), i)).collect();
        let text = String::from_utf8(encoded(true, &groups, &row(None, 0), &heading).concat()).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3_001);
        assert_eq!(lines[0], "interval_start,interval_end,key,net");
        assert_eq!(lines[1], "2026-11-01T00:00:00+06:00,2026-12-01T00:00:00+06:00,m0,0.00");
        assert_eq!(lines[3_000], "2026-11-01T00:00:00+06:00,2026-12-01T00:00:00+06:00,m2999,29.99");
    }

    #[test]
    fn a_json_report_without_its_totals_row_is_an_error_not_a_short_document() {
        let heading = interval().heading("BDT", chrono::Utc::now());
        let shape = shape(false);
        let mut encoder = Encoder::start(&shape, &heading).expect("starts");
        encoder.push(Grouped::Group(row(Some("a".into()), 1))).expect("a group");
        assert!(encoder.finish().is_err());
    }
}
