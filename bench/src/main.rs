//! `haat-bench`: seeds a large tree on the embedded database and prints how
//! long the commission cascade of one order takes at depth 10 and at depth
//! 10,000, how long the monthly period close of the whole tree takes, how
//! long one cashback campaign's settlement takes over 100,000 eligible
//! purchases (and its release of the held cash); then drives the real api
//! and workers over HTTP (webhooks accepted per second and their latency,
//! orders carried to pending commissions with 1, 2 and 4 workers, the lag
//! from delivered webhook to commission, peak memory) and runs `pgbench`
//! against the same cluster as the baseline every figure is compared with.
//!
//! Before all that it cascades 200,000 more seeded orders for real and times
//! the audit over them (every check, and the cascade re-run alone):
//! `--audit-orders 0` skips it, `--only audit` stops after it. Then the
//! real api serves every finance report over that month, JSON and CSV,
//! timed, with its peak memory (`--only reports` stops after that). Last,
//! the dashboard's team page over a 5,000-member downline is timed
//! (`--only dashboard` runs that phase alone, on a database of its own),
//! and a plan simulation replays 20,000 orders of a 10-level network on a
//! database of its own (`--only simulation`: that alone).
//!
//! `scripts/bench` (release build of every program, then
//! `target/release/haat-bench --members 1000000 --purchases 200000 --campaign-purchases 100000`;
//! `DATABASE_URL` to use another server; a fresh database is created and
//! dropped either way).

mod audit;
mod cost;
mod dashboard;
mod load;
mod pgbench;
mod procs;
mod reports;
mod simulation;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Duration as Days, TimeZone, Utc};
use haat_domain::catalog::products::{self, ProductFigures, ProductInput};
use haat_domain::compensation::plans::{self, BonusInput, PlanInput, RankInput};
use haat_domain::orders::{self, Address, NewLine, NewOrder};
use haat_domain::rewards::campaigns::{self, Defaults, NewCampaign, Outcome, ScopeInput};
use haat_domain::rules::order_state::OrderFact;
use haat_domain::seed::{self, SeedMember, SeedPurchase};
use haat_domain::{compensation::commissions, compensation::periods};
use haat_platform::db;
use haat_platform::embedded_pg::{self, ClusterSpec};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;
use uuid::Uuid;

use crate::load::{LoadArgs, LoadFigures};

/// Depth of the one long chain in the tree.
const CHAIN: usize = 10_000;
/// Members directly under the root (the tree is wide at the top).
const FIRST_LEVEL: usize = 1_000;
/// Orders timed at each depth.
const SAMPLES: usize = 30;
pub(crate) const CURRENCY: &str = "BDT";

struct Args {
    members: usize,
    purchases: usize,
    campaign_purchases: usize,
    /// Orders cascaded then audited (0: no audit phase).
    audit_orders: usize,
    /// `audit`: stop after the audit phase.
    only: Option<String>,
    /// Keep the seeded database after the run (to study its queries).
    keep_database: bool,
    load: LoadArgs,
}

fn args() -> Result<Args> {
    let load = LoadArgs { clients: 16, seconds: 10, orders: 1000, webhook_rate: 1000, lag_rate: 50, products: 1 };
    let mut a = Args {
        members: 1_000_000,
        purchases: 200_000,
        campaign_purchases: 100_000,
        audit_orders: 200_000,
        only: None,
        keep_database: false,
        load,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let n = || value.parse::<usize>().with_context(|| format!("{flag} must be a whole number"));
        match flag.as_str() {
            "--members" => a.members = n()?,
            "--purchases" => a.purchases = n()?,
            "--campaign-purchases" => a.campaign_purchases = n()?,
            "--clients" => a.load.clients = n()?.max(1),
            "--seconds" => a.load.seconds = u64::try_from(n()?.max(1))?,
            "--orders" => a.load.orders = n()?.max(1),
            "--webhook-rate" => a.load.webhook_rate = u32::try_from(n()?.max(1))?,
            "--lag-rate" => a.load.lag_rate = u32::try_from(n()?.max(1))?,
            "--products" => a.load.products = n()?.max(1),
            "--audit-orders" => a.audit_orders = n()?,
            "--only" if ["audit", "reports", "dashboard", "simulation"].contains(&value.as_str()) => {
                a.only = Some(value)
            }
            "--keep-database" if value == "yes" || value == "no" => a.keep_database = value == "yes",
            _ => bail!(
                "unknown flag {flag}: expected --members, --purchases, --campaign-purchases, --clients, --seconds, \
                 --orders, --webhook-rate, --lag-rate, --products or --audit-orders, each with a whole number, \
                 or --only audit|reports|dashboard|simulation, or --keep-database yes|no"
            ),
        }
    }
    if a.members < CHAIN + FIRST_LEVEL + 1 {
        bail!("--members must be at least {}", CHAIN + FIRST_LEVEL + 1);
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    let (server, name) = database().await?;
    let url = with_database(&server, &name);
    let pool = db::connect(&url, 4).await?;
    db::migrate(&pool).await?;
    let result = run(&pool, &server, &url, &args).await;
    pool.close().await;
    if args.keep_database {
        println!("kept the database: {url}");
    } else {
        drop_database(&server, &name).await?;
    }
    result
}

/// `--only dashboard`: the dashboard phase on a database of its own
/// downlines (and a root above them), nothing else.
async fn dashboard_alone(pool: &PgPool, url: &str) -> Result<()> {
    let root = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    seed::members(&mut tx, &[SeedMember { id: root, parent_id: None }], CURRENCY).await?;
    tx.commit().await?;
    let (product, plan) = seed_catalog_and_plan(pool).await?;
    let figures = dashboard::run(pool, url, root, product, plan).await?;
    println!("| figure | value |");
    println!("| --- | --- |");
    dashboard::print(&figures);
    Ok(())
}

/// The maintenance URL of the server and the name of a fresh database on it.
async fn database() -> Result<(String, String)> {
    let server = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let spec = ClusterSpec { root: embedded_pg::default_root("bench", &db::project_dir()?), throwaway: false };
            let running = spec.clone();
            let server =
                tokio::task::spawn_blocking(move || embedded_pg::ensure_running(&running)).await??.url("postgres");
            count_statements(&server, spec).await?
        }
    };
    let name = format!("haat_bench_{}", Uuid::now_v7().simple());
    db::create_database_if_missing(&server, &name).await?;
    Ok((server, name))
}

/// Makes the embedded cluster count statements (`pg_stat_statements`,
/// loaded at start-up only: set once, then the cluster is restarted);
/// returns the server's URL.
async fn count_statements(server: &str, spec: ClusterSpec) -> Result<String> {
    let admin = db::connect(server, 1).await?;
    let loaded: String = sqlx::query_scalar("SHOW shared_preload_libraries").fetch_one(&admin).await?;
    if loaded.split(',').any(|l| l.trim() == "pg_stat_statements") {
        return Ok(server.to_owned());
    }
    sqlx::query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'").execute(&admin).await?;
    admin.close().await;
    let cluster = tokio::task::spawn_blocking(move || {
        embedded_pg::stop(&spec, true)?;
        embedded_pg::ensure_running(&spec)
    })
    .await??;
    Ok(cluster.url("postgres"))
}

/// `server` (a postgres URL) naming database `name` instead.
pub(crate) fn with_database(server: &str, name: &str) -> String {
    let (base, query) = server.split_once('?').map_or((server, None), |(b, q)| (b, Some(q)));
    let host = base.rsplit_once('/').map_or(base, |(h, _)| h);
    match query {
        Some(q) => format!("{host}/{name}?{q}"),
        None => format!("{host}/{name}"),
    }
}

pub(crate) async fn drop_database(server: &str, name: &str) -> Result<()> {
    let admin = db::connect(server, 1).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&admin).await?;
    Ok(())
}

async fn run(pool: &PgPool, server: &str, url: &str, args: &Args) -> Result<()> {
    if args.only.as_deref() == Some("dashboard") {
        return dashboard_alone(pool, url).await;
    }
    if args.only.as_deref() == Some("simulation") {
        println!("| figure | value |");
        println!("| --- | --- |");
        print_simulation(&simulation::run(server).await?);
        return Ok(());
    }
    let started = Instant::now();
    let (chain, everyone) = seed_tree(pool, args.members).await?;
    let seeded_tree = started.elapsed();
    let (product, plan) = seed_catalog_and_plan(pool).await?;
    let catalog = seed_more_products(pool, product, args.load.products).await?;
    let last_month = Utc::now() - Days::days(Utc::now().date_naive().day0() as i64 + 2);
    seed_purchases(pool, &everyone, args.purchases, product, plan, last_month).await?;
    let seeded = started.elapsed();
    sqlx::query("ANALYZE").execute(pool).await?;
    if args.audit_orders > 0 {
        let figures = audit::run(pool, &everyone, args.audit_orders, product, plan).await?;
        println!("| figure | value |");
        println!("| --- | --- |");
        audit::print(&figures);
        if args.only.as_deref() == Some("audit") {
            return Ok(());
        }
        let (served, started_kib) = reports::run(url, everyone[1]).await?;
        reports::print(&served, started_kib);
        if args.only.is_some() {
            return Ok(());
        }
    }

    let shallow = time_cascades(pool, chain[9], product).await?;
    let deep = time_cascades(pool, chain[CHAIN - 1], product).await?;
    let period = periods::previous_period(Utc::now(), chrono_tz::UTC);
    let close_started = Instant::now();
    let mut tx = pool.begin().await?;
    let mode = periods::CloseMode::Auto;
    let mut unwatched = haat_domain::jobs::progress::Progress::unwatched();
    let outcome = periods::close(&mut tx, &period, chrono_tz::UTC, Utc::now(), CURRENCY, mode, &mut unwatched).await?;
    tx.commit().await?;
    let close = close_started.elapsed();
    let closed = periods::get(&mut *pool.acquire().await?, &period).await?;
    let campaign = time_campaign(pool, &everyone, args.campaign_purchases, plan).await?;
    // The phases above queued jobs no worker was running for (emails to the
    // synthetic buyers, hold releases): the load phase measures its own
    // traffic only. The deleted rows are vacuumed away at once, as
    // autovacuum would in time: left dead in the fetch index, they made
    // every fetch of the load phase skip them (6.4 ms a fetch instead of
    // 0.75 ms after the 100,000-purchase settlement).
    sqlx::query("DELETE FROM apalis.jobs").execute(pool).await?;
    sqlx::query("VACUUM ANALYZE apalis.jobs").execute(pool).await?;
    let load = load::run(url, pool, &everyone[1..], &catalog, &args.load).await?;
    let baseline = pgbench::tps(server, args.load.clients, Duration::from_secs(args.load.seconds)).await?;
    let pages = dashboard::run(pool, url, everyone[0], product, plan).await?;
    let replay = simulation::run(server).await?;

    println!("haat-bench: {} members (one {CHAIN}-deep chain), {} past purchases", args.members, args.purchases);
    println!("seeding: tree {:.1} s, everything {:.1} s", seeded_tree.as_secs_f64(), seeded.as_secs_f64());
    println!();
    println!("| figure | value |");
    println!("| --- | --- |");
    println!("| cascade, order at depth 10 (median / p90 of {SAMPLES}) | {} / {} |", ms(shallow.0), ms(shallow.1));
    println!("| cascade, order at depth {CHAIN} (median / p90 of {SAMPLES}) | {} / {} |", ms(deep.0), ms(deep.1));
    println!(
        "| cascade ratio, depth {CHAIN} ÷ depth 10 (medians) | {:.2} |",
        deep.0.as_secs_f64() / shallow.0.as_secs_f64()
    );
    println!(
        "| period close {period}, {} members evaluated, {} bonuses ({} total): {outcome:?} | {:.1} s |",
        closed.members,
        closed.bonuses,
        closed.bonus_total,
        close.as_secs_f64()
    );
    println!(
        "| campaign settlement, {} eligible purchases, {} paid ({} total) | {:.1} s |",
        campaign.purchases,
        campaign.paid,
        campaign.paid_total,
        campaign.settle.as_secs_f64()
    );
    println!("| campaign settlement run again (finds it settled) | {} |", ms(campaign.again));
    println!(
        "| release of the campaign's held cash, {} payouts | {:.1} s |",
        campaign.released,
        campaign.release.as_secs_f64()
    );
    print_load(&args.load, &load, &baseline);
    dashboard::print(&pages);
    print_simulation(&replay);
    let ratio = deep.0.as_secs_f64() / shallow.0.as_secs_f64();
    print_targets(&load, &baseline, ratio, campaign.settle, close, &pages, &replay);
    Ok(())
}

fn print_load(a: &LoadArgs, l: &LoadFigures, baseline: &pgbench::Baseline) {
    let c = a.clients;
    println!(
        "| webhooks accepted, {c} clients flat out for {} s, workers stopped (per second; p50 / p99) | {:.0}/s; {} / {} |",
        a.seconds,
        l.flat_out.per_second,
        ms(l.flat_out.p50),
        ms(l.flat_out.p99)
    );
    println!(
        "| webhooks at {}/s for {} s, workers stopped (achieved; p50 / p99) | {:.0}/s; {} / {} |",
        a.webhook_rate,
        a.seconds,
        l.fixed.per_second,
        ms(l.fixed.p50),
        ms(l.fixed.p99)
    );
    for (workers, rate, cost) in &l.carried {
        println!(
            "| orders carried to pending commissions, {} orders by {c} clients, {workers} worker(s) | {rate:.0}/s |",
            a.orders
        );
        println!("| an order's cost flat out, {workers} worker(s) | {} |", describe(cost));
    }
    println!("| an order's cost at {} orders/s, 2 workers | {} |", load::LIGHT_RATE, describe(&l.light_cost));
    println!(
        "| lag, delivered webhook → commission pending, {} orders at {}/s (p50 / p99) | {} / {} |",
        l.lag_orders,
        a.lag_rate,
        ms(l.lag.0),
        ms(l.lag.1)
    );
    println!("| an order's cost at {} orders/s, 2 workers | {} |", a.lag_rate, describe(&l.lag_cost));
    println!("| idle api + 2 workers | {:.3} cores |", l.idle_cores);
    println!("| peak RSS: api / worker | {:.0} MiB / {:.0} MiB |", l.api_peak_mib, l.worker_peak_mib);
    println!(
        "| pgbench TPC-B, scale 10, {c} clients, {} s (machine CPU per transaction) | {:.0} tps ({}) |",
        a.seconds,
        baseline.tps,
        ms(baseline.cpu_per_tx)
    );
}

/// An order's cost in one cell: CPU, statements and transactions, and how
/// busy the machine was.
fn describe(cost: &cost::Cost) -> String {
    let counted = match (cost.statements, cost.commits) {
        (Some(s), Some(c)) => format!("{s:.1} statements in {c:.1} transactions"),
        _ => "statements not counted (pg_stat_statements not loaded)".to_owned(),
    };
    format!(
        "{} CPU, {counted}, {:.1} KiB WAL; machine {:.2} cores busy",
        ms(cost.cpu),
        cost.wal_bytes / 1024.0,
        cost.cores
    )
}

/// The targets beside what this run reached, each with its ratio to
/// pgbench measured in the same run where the target is one.
fn print_targets(
    l: &LoadFigures,
    baseline: &pgbench::Baseline,
    cascade_ratio: f64,
    settle: Duration,
    close: Duration,
    pages: &dashboard::Figures,
    replay: &simulation::Figures,
) {
    let tps = baseline.tps;
    let two = l.carried.iter().find(|(w, _, _)| *w == 2);
    let rate = two.map_or(0.0, |(_, r, _)| *r);
    let statements = two.and_then(|(_, _, c)| c.statements);
    let light = l.light_cost.cpu;
    let light_ratio = light.as_secs_f64() / baseline.cpu_per_tx.as_secs_f64().max(f64::EPSILON);
    let tree = pages.flat.0.max(pages.bushy.0);
    let rows: [(&str, &str, String, bool); 13] = [
        (
            "webhooks accepted/s ÷ pgbench tps",
            "≥ 0.30",
            format!("{:.2}", l.flat_out.per_second / tps),
            l.flat_out.per_second / tps >= 0.30,
        ),
        ("API p99 at 1,000 webhooks/s", "< 25 ms", ms(l.fixed.p99), l.fixed.p99 < Duration::from_millis(25)),
        (
            "orders/s carried to pending commissions, 2 workers (÷ pgbench tps)",
            "≥ 200 (≥ 0.08)",
            format!("{rate:.0} ({:.3})", rate / tps),
            rate >= 200.0 && rate / tps >= 0.08,
        ),
        (
            "statements per order flat out, 2 workers",
            "≤ 40",
            statements.map_or_else(|| "not counted".to_owned(), |s| format!("{s:.1}")),
            statements.is_some_and(|s| s <= 40.0),
        ),
        (
            "machine CPU per order at 10 orders/s (÷ pgbench's per transaction)",
            "≤ 15 ms",
            format!("{} ({light_ratio:.1})", ms(light)),
            light <= Duration::from_millis(15),
        ),
        ("lag p99 at 50 orders/s", "< 250 ms", ms(l.lag.1), l.lag.1 < Duration::from_millis(250)),
        ("idle cost of api + 2 workers", "≤ 0.02 cores", format!("{:.3}", l.idle_cores), l.idle_cores <= 0.02),
        ("cascade time, depth 10,000 ÷ depth 10", "≤ 1.5", format!("{cascade_ratio:.2}"), cascade_ratio <= 1.5),
        (
            "settlement of 100,000 purchases",
            "< 15 s",
            format!("{:.1} s", settle.as_secs_f64()),
            settle < Duration::from_secs(15),
        ),
        ("period close", "< 60 s", format!("{:.1} s", close.as_secs_f64()), close < Duration::from_secs(60)),
        (
            "api and worker peak RSS",
            "< 150 MB each",
            format!("{:.0} / {:.0} MiB", l.api_peak_mib, l.worker_peak_mib),
            l.api_peak_mib.max(l.worker_peak_mib) * 1.048_576 < 150.0,
        ),
        (
            "team page's first level, 5,000-member downline (median)",
            "< 300 ms",
            ms(tree),
            tree < Duration::from_millis(300),
        ),
        (
            "plan simulation of 20,000 past orders, 20,000-member network, 10 levels",
            "< 0.9 s",
            format!("{:.2} s", replay.took.as_secs_f64()),
            replay.took < Duration::from_millis(900),
        ),
    ];
    println!();
    println!("| target | wanted | reached | met |");
    println!("| --- | --- | --- | --- |");
    for (name, wanted, reached, met) in rows {
        println!("| {name} | {wanted} | {reached} | {} |", if met { "yes" } else { "no" });
    }
}

fn print_simulation(f: &simulation::Figures) {
    println!(
        "| plan simulation: {} credited orders, one per member of a {}-level network, replayed under a 10-level draft (median of 3) | {:.2} s |",
        f.orders,
        f.levels,
        f.took.as_secs_f64()
    );
}

/// What the campaign phase measured.
struct CampaignFigures {
    purchases: usize,
    paid: usize,
    paid_total: String,
    settle: Duration,
    again: Duration,
    released: usize,
    release: Duration,
}

/// Seeds `count` purchases of a course, one per member, paid last week;
/// settles a 10% campaign over them (what the settle job runs: one
/// transaction), runs it again, then releases the held cash.
async fn time_campaign(pool: &PgPool, everyone: &[Uuid], count: usize, plan: Uuid) -> Result<CampaignFigures> {
    let mut tx = pool.begin().await?;
    let course =
        products::create(&mut tx, &product_input(("COURSE-1", "Course", "courses", "1500.00", "10.00", "100.00")))
            .await?;
    tx.commit().await?;
    let paid_at = Utc::now() - Days::days(7);
    let purchases: Vec<SeedPurchase> = everyone
        .iter()
        .cycle()
        .skip(1)
        .take(count)
        .map(|b| SeedPurchase { buyer_id: *b, quantity: 1, credited_at: paid_at })
        .collect();
    let mut tx = pool.begin().await?;
    seed::credited_orders(&mut tx, course.id, plan, &purchases, chrono_tz::UTC, CURRENCY, true).await?;
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(pool).await?;
    let new = NewCampaign {
        name: "Course launch".into(),
        scope: ScopeInput { kind: "product".into(), product_id: Some(course.id), seller_id: None },
        starts_at: (paid_at - Days::days(1)).to_rfc3339(),
        ends_at: (paid_at + Days::days(1)).to_rfc3339(),
        time_zone: None,
        settle_at: Some(Utc::now() + Days::days(1)),
        grace_seconds: None,
        cron: None,
        rate: "0.10".into(),
        trigger: "reached".into(),
        min_units: 1,
        max_units: None,
        min_value: None,
        max_value: None,
        per_buyer_limit: None,
        reward: None,
        budget: None,
    };
    let defaults = Defaults { time_zone: chrono_tz::UTC, grace_seconds: 3600 };
    let mut tx = pool.begin().await?;
    let created = campaigns::create(&mut tx, &new, defaults, Utc::now()).await?;
    tx.commit().await?;
    let settle = |pool: PgPool| async move {
        let started = Instant::now();
        let mut tx = pool.begin().await?;
        let outcome = campaigns::settle(&mut tx, created.id, 1, Utc::now(), CURRENCY).await?;
        tx.commit().await?;
        anyhow::Ok((outcome, started.elapsed()))
    };
    let (outcome, settle_time) = settle(pool.clone()).await?;
    let (again, again_time) = settle(pool.clone()).await?;
    if again != Outcome::Nothing || !matches!(outcome, Outcome::Settled { .. }) {
        bail!("settlement ran {outcome:?}, then {again:?}");
    }
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    let released = campaigns::release(&mut tx, created.id, CURRENCY).await?;
    tx.commit().await?;
    let release = started.elapsed();
    let view = campaigns::get(&mut *pool.acquire().await?, created.id).await?;
    let s = view.settlement.context("the campaign has a settlement")?;
    Ok(CampaignFigures {
        purchases: usize::try_from(s.eligible_purchases)?,
        paid: usize::try_from(s.paid_purchases)?,
        paid_total: s.paid_total.to_string(),
        settle: settle_time,
        again: again_time,
        released,
        release,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A root, `FIRST_LEVEL` members under it, a `CHAIN`-deep chain under it,
/// and everyone else under a random earlier member (a random recursive
/// tree: shallow and wide, depth around ln n). Returns the chain, top first,
/// and every member.
async fn seed_tree(pool: &PgPool, members: usize) -> Result<(Vec<Uuid>, Vec<Uuid>)> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut rows: Vec<SeedMember> = Vec::with_capacity(members);
    let root = Uuid::now_v7();
    rows.push(SeedMember { id: root, parent_id: None });
    let mut chain = Vec::with_capacity(CHAIN);
    for i in 0..CHAIN {
        let parent = if i == 0 { root } else { chain[i - 1] };
        let id = Uuid::now_v7();
        chain.push(id);
        rows.push(SeedMember { id, parent_id: Some(parent) });
    }
    let mut wide: Vec<Uuid> = Vec::with_capacity(members);
    for _ in 0..FIRST_LEVEL {
        let id = Uuid::now_v7();
        wide.push(id);
        rows.push(SeedMember { id, parent_id: Some(root) });
    }
    while rows.len() < members {
        let parent = wide[rng.random_range(0..wide.len())];
        let id = Uuid::now_v7();
        wide.push(id);
        rows.push(SeedMember { id, parent_id: Some(parent) });
    }
    let mut tx = pool.begin().await?;
    seed::members(&mut tx, &rows, CURRENCY).await?;
    tx.commit().await?;
    Ok((chain, rows.iter().map(|m| m.id).collect()))
}

/// A product with stock that never runs out during a benchmark.
fn product_input(figures: ProductFigures<'_>) -> ProductInput {
    ProductInput::for_sale(figures, 1_000_000_000)
}

/// `first` and `n - 1` more products like it: the catalog the load phase
/// spreads its orders over.
async fn seed_more_products(pool: &PgPool, first: Uuid, n: usize) -> Result<Vec<Uuid>> {
    let mut ids = vec![first];
    let mut tx = pool.begin().await?;
    for i in 1..n {
        let (sku, name) = (format!("TEA-500-{i}"), format!("Tea 500g, blend {i}"));
        let input = product_input((&sku, &name, "grocery", "450.00", "20.00", "300.00"));
        ids.push(products::create(&mut tx, &input).await?.id);
    }
    tx.commit().await?;
    Ok(ids)
}

pub(crate) async fn seed_catalog_and_plan(pool: &PgPool) -> Result<(Uuid, Uuid)> {
    let mut tx = pool.begin().await?;
    let product =
        products::create(&mut tx, &product_input(("TEA-500", "Tea 500g", "grocery", "450.00", "20.00", "300.00")))
            .await?;
    let rank = |name: &str, pv: &str, group: &str| RankInput {
        name: name.into(),
        min_personal_pv: Some(pv.into()),
        min_group_pv: Some(group.into()),
    };
    let plan = plans::create(
        &mut tx,
        &PlanInput {
            name: "Standard".into(),
            effective_from: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).single().unwrap_or_else(Utc::now),
            holding_days: Some(7),
            levels: ["0.10", "0.05", "0.03", "0.02", "0.01"].map(String::from).to_vec(),
            ranks: vec![rank("silver", "20.00", "200.00"), rank("gold", "20.00", "2000.00")],
            period_bonuses: vec![BonusInput {
                name: "team".into(),
                min_group_pv: "1000.00".into(),
                min_rank: None,
                amount: Some("100.00".into()),
                rate: None,
            }],
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok((product.id, plan.id))
}

/// `count` purchases of one to three units by members drawn from
/// `everyone` (the same draw for the same `seed`), credited at `at`.
fn random_purchases(everyone: &[Uuid], count: usize, seed: u64, at: chrono::DateTime<Utc>) -> Vec<SeedPurchase> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| SeedPurchase {
            buyer_id: everyone[rng.random_range(0..everyone.len())],
            quantity: rng.random_range(1..=3),
            credited_at: at,
        })
        .collect()
}

/// `count` purchases by random members, credited last month.
async fn seed_purchases(
    pool: &PgPool,
    everyone: &[Uuid],
    count: usize,
    product: Uuid,
    plan: Uuid,
    at: chrono::DateTime<Utc>,
) -> Result<()> {
    let purchases = random_purchases(everyone, count, 11, at);
    let mut tx = pool.begin().await?;
    seed::credited_orders(&mut tx, product, plan, &purchases, chrono_tz::UTC, CURRENCY, true).await?;
    tx.commit().await?;
    Ok(())
}

/// Places and delivers `SAMPLES` orders for `buyer` and times each one's
/// cascade (load inputs, compute, write lines and ledger entries, commit).
/// Returns the median and the 90th percentile.
async fn time_cascades(pool: &PgPool, buyer: Uuid, product: Uuid) -> Result<(Duration, Duration)> {
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let mut tx = pool.begin().await?;
        let order = orders::place(&mut tx, &order_for(buyer, product), CURRENCY, chrono::Duration::hours(1)).await?;
        orders::apply_fact(&mut tx, order.id, OrderFact::Delivered, "bench", Utc::now()).await?;
        commissions::credit_volume(&mut tx, order.id, chrono_tz::UTC).await?;
        tx.commit().await?;
        let started = Instant::now();
        let mut tx = pool.begin().await?;
        commissions::cascade_commission(&mut tx, order.id, CURRENCY, &Default::default()).await?;
        tx.commit().await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok((times[SAMPLES / 2], times[SAMPLES * 9 / 10]))
}

fn order_for(buyer: Uuid, product: Uuid) -> NewOrder {
    NewOrder {
        buyer_id: Some(buyer),
        guest: None,
        referrer_code: None,
        lines: vec![NewLine { product_id: product, quantity: 1 }],
        shipping_address: Address {
            name: "Bench".into(),
            phone: "+8801711000000".into(),
            line1: "House 1".into(),
            line2: None,
            city: "Dhaka".into(),
            postcode: None,
        },
        payment_method: "cod".into(),
        coupon_code: None,
        store_credit: None,
        pickup_point_id: None,
    }
}
