//! The load phase: concurrent HTTP clients against the real `haat-api`,
//! with real `haat-worker` processes, on the benchmark's seeded database.
//! Orders are placed with `POST /v1/orders` and delivered with signed
//! Standard Webhooks, exactly as a storefront and a courier would.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use haat_domain::integrations::webhooks::WebhookSecret;
use haat_platform::settings::{DEFAULT_ADMIN_TOKEN, DEFAULT_WEBHOOK_SECRET};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::cost::{self, Cost, Meter};
use crate::procs::{self, Proc};

/// How hard to drive.
#[derive(Debug, Clone)]
pub struct LoadArgs {
    /// Concurrent HTTP clients in the closed-loop phases (and pgbench's).
    pub clients: usize,
    /// Length of each timed webhook phase.
    pub seconds: u64,
    /// Orders carried per worker count.
    pub orders: usize,
    /// Open-loop rate of the webhook latency phase.
    pub webhook_rate: u32,
    /// Open-loop rate of the lag phase (orders per second).
    pub lag_rate: u32,
    /// How many products the orders are spread over (1: every order takes
    /// stock from the same row, the hottest row there is).
    pub products: usize,
}

/// A latency distribution and the rate it was measured at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rate {
    /// Requests answered 2xx per second.
    pub per_second: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// Everything the load phase measured.
#[derive(Debug, Default)]
pub struct LoadFigures {
    /// Webhooks flat out (`clients` in a closed loop).
    pub flat_out: Rate,
    /// Webhooks at `webhook_rate` (open loop).
    pub fixed: Rate,
    /// (worker processes, orders per second carried to pending commissions,
    /// what an order cost until every job it caused that was due had run).
    pub carried: Vec<(usize, f64, Cost)>,
    /// Delivered webhook sent → first commission row, at `lag_rate`.
    pub lag: (Duration, Duration),
    /// Orders in the lag phase.
    pub lag_orders: usize,
    /// What an order cost at `lag_rate`.
    pub lag_cost: Cost,
    /// What an order cost at [`LIGHT_RATE`] orders per second.
    pub light_cost: Cost,
    /// Cores the api and two workers use with nothing to do.
    pub idle_cores: f64,
    /// Peak resident set of the api (MiB).
    pub api_peak_mib: f64,
    /// Highest peak resident set of any worker (MiB).
    pub worker_peak_mib: f64,
}

/// The light load at which CPU per order is measured (orders per second).
pub const LIGHT_RATE: u32 = 10;
/// How long the idle system is watched.
const IDLE_WATCH: Duration = Duration::from_secs(20);

/// The running system.
struct System {
    env: Vec<(String, String)>,
    logs: std::path::PathBuf,
    api: Proc,
    workers: Vec<Proc>,
    started: usize,
    worker_peak_kib: u64,
}

impl System {
    async fn start(database_url: &str) -> Result<(Self, String)> {
        let logs =
            std::path::Path::new("target").join("bench-logs").join(Utc::now().format("%Y%m%dT%H%M%S").to_string());
        std::fs::create_dir_all(logs.join("outbox"))?;
        let env: Vec<(String, String)> = [
            ("DATABASE_URL", database_url),
            ("HAAT_API_ADDR", "127.0.0.1:0"),
            ("HAAT_OUTBOX_DIR", &logs.join("outbox").to_string_lossy()),
            ("RUST_LOG", "warn"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let (api, base) = procs::start_api(&env, &logs).await?;
        Ok((Self { env, logs, api, workers: Vec::new(), started: 0, worker_peak_kib: 0 }, base))
    }

    /// Runs exactly `n` workers: starts more, or stops extras with SIGTERM
    /// (they finish what they hold) after reading their memory.
    async fn set_workers(&mut self, n: usize) -> Result<()> {
        while self.workers.len() < n {
            self.workers.push(procs::start_worker(&self.env, &self.logs, self.started)?);
            self.started += 1;
        }
        while self.workers.len() > n {
            let mut w = self.workers.pop().context("a worker")?;
            w.sample();
            self.worker_peak_kib = self.worker_peak_kib.max(w.peak_kib);
            if let Some(pid) = w.child.id() {
                tokio::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().await?;
            }
            w.child.wait().await?;
        }
        Ok(())
    }

    /// Writes the phase's most run statements to `statements-<phase>.txt`
    /// beside the processes' logs (where the server counts them).
    async fn log_statements(&self, pool: &PgPool, counted: bool, phase: &str) -> Result<()> {
        if counted {
            std::fs::write(self.logs.join(format!("statements-{phase}.txt")), cost::most_run(pool, 80).await?)?;
        }
        Ok(())
    }

    /// CPU ticks the api and the workers have used so far.
    fn ticks(&self) -> Result<u64> {
        let mut pids = vec![self.api.child.id().context("the api has exited")?];
        for w in &self.workers {
            pids.push(w.child.id().context("a worker has exited")?);
        }
        pids.into_iter().map(cost::process_ticks).sum()
    }

    fn sample(&mut self) {
        self.api.sample();
        for w in &mut self.workers {
            w.sample();
            self.worker_peak_kib = self.worker_peak_kib.max(w.peak_kib);
        }
    }
}

/// A storefront and a courier, over HTTP.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    secret: Arc<WebhookSecret>,
}

impl Client {
    /// Places a cash-on-delivery order of one unit; returns its id and invoice number.
    async fn place(&self, buyer: Uuid, product: Uuid) -> Result<(Uuid, String)> {
        let body = json!({
            "buyer_id": buyer, "lines": [{"product_id": product, "quantity": 1}],
            "shipping_address": {"name": "Bench", "phone": "+8801711000000", "line1": "House 1", "city": "Dhaka"},
            "payment_method": "cod"
        });
        let res = self
            .http
            .post(format!("{}/v1/orders", self.base))
            .bearer_auth(DEFAULT_ADMIN_TOKEN)
            .header("idempotency-key", Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("order refused: {} {}", res.status(), res.text().await.unwrap_or_default());
        }
        let order: Value = res.json().await?;
        let id = order["id"].as_str().and_then(|s| s.parse().ok()).context("order id")?;
        Ok((id, order["invoice_no"].as_str().context("invoice_no")?.to_owned()))
    }

    /// Sends a signed courier event of `kind` for `invoice`; returns how long the api took.
    async fn courier(&self, kind: &str, invoice: &str) -> Result<Duration> {
        let body = json!({"type": kind, "data": {"invoice_no": invoice, "tracking_id": "SF-BENCH"}}).to_string();
        let id = format!("msg_{}", Uuid::new_v4().simple());
        let timestamp = Utc::now().timestamp();
        let started = Instant::now();
        let res = self
            .http
            .post(format!("{}/v1/webhooks/couriers/generic", self.base))
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", self.secret.sign(&id, timestamp, body.as_bytes()))
            .body(body)
            .send()
            .await?;
        let took = started.elapsed();
        if !res.status().is_success() {
            bail!("webhook refused: {}", res.status());
        }
        Ok(took)
    }

    /// Places an order and sends its delivery; returns its id and when the
    /// delivered webhook was sent.
    async fn order_and_deliver(&self, buyer: Uuid, product: Uuid) -> Result<(Uuid, String, DateTime<Utc>)> {
        let (id, invoice) = self.place(buyer, product).await?;
        let sent = Utc::now();
        self.courier("delivery.delivered", &invoice).await?;
        Ok((id, invoice, sent))
    }
}

/// Runs every load phase; `buyers` are members with an upline.
pub async fn run(
    database_url: &str,
    pool: &PgPool,
    buyers: &[Uuid],
    products: &[Uuid],
    a: &LoadArgs,
) -> Result<LoadFigures> {
    let (mut sys, base) = System::start(database_url).await?;
    let secret = WebhookSecret::parse(DEFAULT_WEBHOOK_SECRET).map_err(|e| anyhow::anyhow!("webhook secret {e}"))?;
    let client = Client { http: reqwest::Client::new(), base, secret: Arc::new(secret) };
    let mut figures = LoadFigures::default();
    let mut invoices = Vec::new();
    // Each order: a buyer spread over the tree (a prime stride), and the
    // next product of the catalog the load uses.
    let mut sale = 0usize;
    let mut pick = move || {
        sale += 1;
        (buyers[sale * 7919 % buyers.len()], products[sale % products.len()])
    };

    let counts = cost::statements_available(pool).await?;
    for workers in [1, 2, 4] {
        sys.set_workers(workers).await?;
        wait_idle(pool).await?;
        eprintln!("load: carrying {} orders with {workers} worker(s)", a.orders);
        let meter = Meter::start(pool, counts).await?;
        let started = Instant::now();
        let placed: Vec<Result<(Uuid, String, DateTime<Utc>)>> = futures::stream::iter((0..a.orders).map(|_| pick()))
            .map(|(b, p)| {
                let c = client.clone();
                async move { c.order_and_deliver(b, p).await }
            })
            .buffer_unordered(a.clients)
            .collect()
            .await;
        let placed = placed.into_iter().collect::<Result<Vec<_>>>()?;
        let ids: Vec<Uuid> = placed.iter().map(|p| p.0).collect();
        wait_commissioned(pool, &ids).await?;
        let rate = a.orders as f64 / started.elapsed().as_secs_f64();
        wait_idle(pool).await?;
        figures.carried.push((workers, rate, meter.per_order(pool, a.orders).await?));
        sys.log_statements(pool, counts, &format!("flat-out-{workers}")).await?;
        invoices.extend(placed.into_iter().map(|p| p.1));
        sys.sample();
    }

    sys.set_workers(2).await?;
    wait_idle(pool).await?;
    eprintln!("load: {LIGHT_RATE} orders/s");
    let meter = Meter::start(pool, counts).await?;
    let (_, n) = open_loop(&client, pool, LIGHT_RATE, a.seconds * 2, &mut pick).await?;
    wait_idle(pool).await?;
    figures.light_cost = meter.per_order(pool, n).await?;
    sys.log_statements(pool, counts, "light").await?;

    eprintln!("load: lag at {} orders/s", a.lag_rate);
    let meter = Meter::start(pool, counts).await?;
    let (lags, n) = open_loop(&client, pool, a.lag_rate, a.seconds * 2, &mut pick).await?;
    wait_idle(pool).await?;
    figures.lag_cost = meter.per_order(pool, n).await?;
    sys.log_statements(pool, counts, "lag").await?;
    figures.lag = lags;
    figures.lag_orders = n;
    sys.sample();

    eprintln!("load: idle for {} s", IDLE_WATCH.as_secs());
    let before = sys.ticks()?;
    let watched = Instant::now();
    tokio::time::sleep(IDLE_WATCH).await;
    figures.idle_cores = cost::ticks_to_seconds(sys.ticks()? - before) / watched.elapsed().as_secs_f64();

    // Intake alone: on a machine this small the workers would take the
    // api's and Postgres's CPU; the events wait in the queue meanwhile.
    sys.set_workers(0).await?;
    eprintln!("load: webhooks alone");
    figures.worker_peak_mib = sys.worker_peak_kib as f64 / 1024.0;
    figures.flat_out = flat_out(&client, &invoices, a).await?;
    figures.fixed = fixed_rate(&client, &invoices, a).await?;
    sys.sample();
    figures.api_peak_mib = sys.api.peak_kib as f64 / 1024.0;
    Ok(figures)
}

/// Orders at `rate` per second for `seconds` (open loop); the lag of each
/// from its delivered webhook to its first commission row (median, p99),
/// and how many orders there were.
async fn open_loop(
    client: &Client,
    pool: &PgPool,
    rate: u32,
    seconds: u64,
    pick: &mut impl FnMut() -> (Uuid, Uuid),
) -> Result<((Duration, Duration), usize)> {
    let total = usize::try_from(u64::from(rate) * seconds)?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..total {
        tick.tick().await;
        let (c, (b, p)) = (client.clone(), pick());
        tasks.spawn(async move { c.order_and_deliver(b, p).await });
    }
    let mut sent = Vec::with_capacity(total);
    while let Some(done) = tasks.join_next().await {
        let (id, _, at) = done??;
        sent.push((id, at));
    }
    let ids: Vec<Uuid> = sent.iter().map(|s| s.0).collect();
    wait_commissioned(pool, &ids).await?;
    let firsts = sqlx::query!(
        r#"SELECT order_id, min(created_at) AS "first!" FROM commissions WHERE order_id = ANY($1) GROUP BY order_id
           /* haat-bench */"#,
        &ids
    )
    .fetch_all(pool)
    .await?;
    let first: std::collections::HashMap<Uuid, DateTime<Utc>> =
        firsts.into_iter().map(|r| (r.order_id, r.first)).collect();
    let mut lags: Vec<Duration> =
        sent.iter().filter_map(|(id, at)| first.get(id).map(|f| (*f - *at).to_std().unwrap_or_default())).collect();
    Ok((percentiles(&mut lags), total))
}

/// `clients` senders in a closed loop for `seconds`, each sending `shipped`
/// events for the placed orders (each a new event under a new id).
async fn flat_out(client: &Client, invoices: &[String], a: &LoadArgs) -> Result<Rate> {
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let started = Instant::now();
    let senders = (0..a.clients).map(|k| {
        let c = client.clone();
        async move {
            let mut took = Vec::new();
            let mut i = k;
            while Instant::now() < deadline {
                took.push(c.courier("delivery.shipped", &invoices[i % invoices.len()]).await?);
                i += a.clients;
            }
            anyhow::Ok(took)
        }
    });
    let mut all: Vec<Duration> = Vec::new();
    for took in futures::future::join_all(senders).await {
        all.extend(took?);
    }
    let per_second = all.len() as f64 / started.elapsed().as_secs_f64();
    let (p50, p99) = percentiles(&mut all);
    Ok(Rate { per_second, p50, p99 })
}

/// Webhooks sent at `webhook_rate` per second for `seconds` (open loop, at
/// most 512 in flight).
async fn fixed_rate(client: &Client, invoices: &[String], a: &LoadArgs) -> Result<Rate> {
    let total = usize::try_from(u64::from(a.webhook_rate) * a.seconds)?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(a.webhook_rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let in_flight = Arc::new(Semaphore::new(512));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..total {
        tick.tick().await;
        let permit = in_flight.clone().acquire_owned().await?;
        let (c, invoice) = (client.clone(), invoices[i % invoices.len()].clone());
        tasks.spawn(async move {
            let took = c.courier("delivery.shipped", &invoice).await;
            drop(permit);
            took
        });
    }
    let mut all = Vec::with_capacity(total);
    while let Some(done) = tasks.join_next().await {
        all.push(done??);
    }
    let per_second = all.len() as f64 / started.elapsed().as_secs_f64();
    let (p50, p99) = percentiles(&mut all);
    Ok(Rate { per_second, p50, p99 })
}

/// Median and 99th percentile (nearest rank).
fn percentiles(v: &mut [Duration]) -> (Duration, Duration) {
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.50), at(0.99))
}

/// Waits until every order in `ids` has its commissions.
async fn wait_commissioned(pool: &PgPool, ids: &[Uuid]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = sqlx::query_scalar!(
            r#"SELECT count(DISTINCT order_id) AS "n!" FROM commissions WHERE order_id = ANY($1) /* haat-bench */"#,
            ids
        )
        .fetch_one(pool)
        .await?;
        if usize::try_from(done)? == ids.len() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {done} of {} orders reached their commissions in 10 minutes", ids.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until no job is due (so one phase's backlog does not slow the next).
async fn wait_idle(pool: &PgPool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        // The queue's own table: checked at run time.
        let due: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE status IN ('Pending', 'Queued', 'Running') AND run_at <= now()
             /* haat-bench */",
        )
        .fetch_one(pool)
        .await?;
        if due == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{due} jobs still due after 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
