//! The dashboard phase: the real api serves a member's team page, signed
//! in with a real session, over a downline of 5,000 members — once all on
//! the first level (the page sends a hundred and a "more" link), once as
//! 1,000 members with four under each — and one level opened in place
//! (the htmx request). Each is timed end to end, request to last byte.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use haat_domain::auth::{Role, sessions};
use haat_domain::seed::{self, SeedMember, SeedPurchase};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{CURRENCY, procs};

/// Members under each of the two timed members.
const DOWNLINE: usize = 5_000;
/// Requests timed per figure (after a few untimed).
const SAMPLES: usize = 30;

/// What the phase measured: median and 90th percentile of each.
pub struct Figures {
    /// The team page of the member with all 5,000 on its first level.
    pub flat: (Duration, Duration),
    /// The team page of the member with 1,000 on its first level, four under each.
    pub bushy: (Duration, Duration),
    /// One first-level member's level opened in place (`HX-Request`).
    pub opened: (Duration, Duration),
}

/// Seeds the two downlines under `root` (each member with a purchase this
/// month, so every row has volume to read), starts the api on
/// `database_url` and times the pages.
pub async fn run(pool: &PgPool, database_url: &str, root: Uuid, product: Uuid, plan: Uuid) -> Result<Figures> {
    let (flat, bushy, first_of_bushy) = seed_downlines(pool, root, product, plan).await?;
    let mut conn = pool.acquire().await?;
    let flat_session = sessions::open(&mut conn, Role::Member, Some(flat)).await?.token;
    let bushy_session = sessions::open(&mut conn, Role::Member, Some(bushy)).await?.token;
    drop(conn);
    let logs = std::path::Path::new("target").join("bench-logs").join(format!("dashboard-{}", Utc::now().timestamp()));
    std::fs::create_dir_all(&logs)?;
    let env: Vec<(String, String)> =
        [("DATABASE_URL", database_url), ("HAAT_API_ADDR", "127.0.0.1:0"), ("RUST_LOG", "warn")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
    let (_api, base) = procs::start_api(&env, &logs).await?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let page = |member: Uuid| format!("{base}/app/members/{member}/team");
    Ok(Figures {
        flat: time(&http, &page(flat), &flat_session, false, 100).await?,
        bushy: time(&http, &page(bushy), &bushy_session, false, 100).await?,
        opened: time(&http, &format!("{}?under={first_of_bushy}", page(bushy)), &bushy_session, true, 4).await?,
    })
}

/// Two members under `root` and their downlines; returns them and the
/// first member of the second's first level.
async fn seed_downlines(pool: &PgPool, root: Uuid, product: Uuid, plan: Uuid) -> Result<(Uuid, Uuid, Uuid)> {
    let (flat, bushy) = (Uuid::now_v7(), Uuid::now_v7());
    let mut rows =
        vec![SeedMember { id: flat, parent_id: Some(root) }, SeedMember { id: bushy, parent_id: Some(root) }];
    rows.extend((0..DOWNLINE).map(|_| SeedMember { id: Uuid::now_v7(), parent_id: Some(flat) }));
    let first_level: Vec<Uuid> = (0..DOWNLINE / 5).map(|_| Uuid::now_v7()).collect();
    rows.extend(first_level.iter().map(|id| SeedMember { id: *id, parent_id: Some(bushy) }));
    for parent in &first_level {
        rows.extend((0..4).map(|_| SeedMember { id: Uuid::now_v7(), parent_id: Some(*parent) }));
    }
    let purchases: Vec<SeedPurchase> =
        rows.iter().map(|m| SeedPurchase { buyer_id: m.id, quantity: 1, credited_at: Utc::now() }).collect();
    let mut tx = pool.begin().await?;
    seed::members(&mut tx, &rows, CURRENCY).await?;
    seed::credited_orders(&mut tx, product, plan, &purchases, chrono_tz::UTC, CURRENCY, true).await?;
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(pool).await?;
    let first = first_level.iter().min().copied().context("a first level")?;
    Ok((flat, bushy, first))
}

/// Median and p90 of `SAMPLES` GETs of `url` as `session`, each checked
/// to answer 200 with `members` members listed.
async fn time(
    http: &reqwest::Client,
    url: &str,
    session: &str,
    fragment: bool,
    members: usize,
) -> Result<(Duration, Duration)> {
    let mut times = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES + 3 {
        let mut request = http.get(url).header("cookie", format!("haat_session={session}"));
        if fragment {
            request = request.header("hx-request", "true");
        }
        let started = Instant::now();
        let res = request.send().await.with_context(|| format!("GET {url}"))?;
        let status = res.status();
        let body = res.text().await?;
        let took = started.elapsed();
        let listed = body.matches("data-member=").count();
        if !status.is_success() || listed != members {
            bail!("GET {url} answered {status} with {listed} members, not {members}: {body}");
        }
        if i >= 3 {
            times.push(took);
        }
    }
    times.sort();
    Ok((times[times.len() / 2], times[times.len() * 9 / 10]))
}

/// Prints the phase's rows of the figures table.
pub fn print(f: &Figures) {
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let row = |what: &str, (median, p90): (Duration, Duration)| {
        println!("| dashboard: {what} (median / p90 of {SAMPLES}) | {} / {} |", ms(median), ms(p90));
    };
    row("team page, 5,000 members all on the first level (first 100 sent; target < 300 ms)", f.flat);
    row("team page, 5,000 members: 1,000 on the first level, 4 under each (first 100 sent; target < 300 ms)", f.bushy);
    row("one first-level member's level opened in place (its 4 members)", f.opened);
}
