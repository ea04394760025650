//! The reports phase: the real api serves every finance report over the
//! month the audit phase's orders were credited in, as JSON and as CSV;
//! each is timed end to end (request to last byte) and the api's peak
//! resident memory is read after each.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Months, NaiveDate, Utc};
use uuid::Uuid;

use crate::procs;

/// The admin token the phase's api is started with.
const TOKEN: &str = "bench-reports-admin-token";

/// One report as served.
pub struct Served {
    /// The route and its query.
    pub report: String,
    /// JSON: time to the last byte, and its size.
    pub json: (Duration, usize),
    /// CSV: the same.
    pub csv: (Duration, usize),
    /// The api's peak resident set after it (KiB).
    pub peak_kib: u64,
}

/// Starts the api on `database_url` and fetches every report; `member` is
/// whose earnings are read.
pub async fn run(database_url: &str, member: Uuid) -> Result<(Vec<Served>, u64)> {
    let logs = std::path::Path::new("target").join("bench-logs").join(format!("reports-{}", Utc::now().timestamp()));
    std::fs::create_dir_all(&logs)?;
    let env: Vec<(String, String)> = [
        ("DATABASE_URL", database_url),
        ("HAAT_API_ADDR", "127.0.0.1:0"),
        ("HAAT_ADMIN_TOKEN", TOKEN),
        ("RUST_LOG", "warn"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let (mut api, base) = procs::start_api(&env, &logs).await?;
    api.sample();
    let started_kib = api.peak_kib;
    let today = Utc::now().date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).context("the month")?;
    let next = first.checked_add_months(Months::new(1)).context("next month")?;
    let month = format!("from={first}&to={next}&time_zone=UTC");
    let routes = [
        format!("/v1/admin/reports/sales?{month}&group_by=day"),
        format!("/v1/admin/reports/sales?{month}&group_by=product"),
        format!("/v1/admin/reports/commissions?{month}&group_by=day"),
        format!("/v1/admin/reports/commissions?{month}&group_by=level"),
        format!("/v1/admin/reports/commissions?{month}&group_by=member"),
        format!("/v1/admin/reports/liabilities?{month}"),
        format!("/v1/admin/reports/payouts?{month}&group_by=status"),
        format!("/v1/admin/reports/top-earners?{month}&limit=20"),
        format!("/v1/members/{member}/earnings?{month}&group_by=day"),
    ];
    let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build()?;
    let mut served = Vec::new();
    for route in routes {
        let json = fetch(&http, &format!("{base}{route}"), "json").await?;
        let csv = fetch(&http, &format!("{base}{route}&format=csv"), "csv").await?;
        api.sample();
        served.push(Served {
            report: route.replace(&format!("{month}&"), "").replace(&month, ""),
            json,
            csv,
            peak_kib: api.peak_kib,
        });
    }
    Ok((served, started_kib))
}

async fn fetch(http: &reqwest::Client, url: &str, what: &str) -> Result<(Duration, usize)> {
    let started = Instant::now();
    let res = http.get(url).bearer_auth(TOKEN).send().await.with_context(|| format!("GET {url}"))?;
    let status = res.status();
    let body = res.bytes().await?;
    if !status.is_success() {
        bail!("GET {url} ({what}) answered {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok((started.elapsed(), body.len()))
}

/// Prints the phase's rows of the figures table.
pub fn print(served: &[Served], started_kib: u64) {
    for s in served {
        println!(
            "| report `{}`: JSON / CSV (time to last byte; size) | {:.2} s / {:.2} s; {:.1} / {:.1} KiB |",
            s.report,
            s.json.0.as_secs_f64(),
            s.csv.0.as_secs_f64(),
            s.json.1 as f64 / 1024.0,
            s.csv.1 as f64 / 1024.0
        );
    }
    let peak = served.iter().map(|s| s.peak_kib).max().unwrap_or(started_kib);
    println!("| api peak RSS over the reports (at start) | {} MiB ({} MiB) |", peak / 1024, started_kib / 1024);
}
