//! The chaos run: many orders through the HTTP api with their signed
//! webhooks — duplicated under the same and new ids, shuffled across orders,
//! some orders returned — while worker processes are killed with SIGKILL at
//! random moments and restarted, and Postgres is restarted once in the
//! middle. Once the queues drain, every order must be in its expected final
//! state with exactly its expected commissions (exact amounts), the wallets
//! must hold exactly those, the audit must pass, and no job may be stuck
//! running or dead.
//!
//! It runs on a Postgres cluster of its own (it restarts it), removed at the
//! end. `tests/tests/chaos.rs` runs the short form; `scripts/chaos` the long.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use haat_platform::embedded_pg::{self, ClusterSpec};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::process::Child;

use crate::own_cluster::OwnCluster;
use crate::{TestApp, delivered_event, five_level_plan, order_body, paid_event};

/// What to do.
#[derive(Debug, Clone)]
pub struct Config {
    /// Orders placed.
    pub orders: usize,
    /// Worker processes kept running (one is killed and replaced at a time).
    pub workers: usize,
    /// Seeds every random choice (scenarios, duplicates, order, kills).
    pub seed: u64,
    /// A kill every this many milliseconds, drawn uniformly from the range.
    pub kill_every_ms: (u64, u64),
    /// Kills spread over the webhooks however fast they go (a fast machine
    /// could send them all between two timed kills).
    pub min_kills: usize,
    /// HTTP requests in flight at once.
    pub concurrency: usize,
    /// How long the queues may take to drain after the last webhook.
    pub drain_patience: Duration,
}

impl Config {
    /// The form CI runs: small but with every fault in it.
    #[must_use]
    pub fn short(seed: u64) -> Self {
        Self {
            orders: 60,
            workers: 3,
            seed,
            kill_every_ms: (300, 1200),
            min_kills: 3,
            concurrency: 8,
            drain_patience: Duration::from_secs(120),
        }
    }
}

/// What happened and what was found.
#[derive(Debug, Default)]
pub struct Report {
    /// The seed, to replay the same choices.
    pub seed: u64,
    /// Orders placed.
    pub orders: usize,
    /// Orders whose events include a return.
    pub returned: usize,
    /// Distinct provider events.
    pub events: usize,
    /// Resends under the same webhook id.
    pub duplicates_same_id: usize,
    /// Resends under a new webhook id.
    pub duplicates_new_id: usize,
    /// Worker processes killed with SIGKILL.
    pub kills: usize,
    /// Worker processes started, the first ones included.
    pub worker_starts: usize,
    /// Workers that exited by themselves (started while Postgres was down).
    pub worker_exits: usize,
    /// Postgres restarts.
    pub postgres_restarts: usize,
    /// HTTP requests sent again after a connection error or a 5xx.
    pub http_retries: usize,
    /// Seconds from the first order to the last webhook accepted.
    pub drive_seconds: f64,
    /// Seconds the queues then took to drain.
    pub drain_seconds: f64,
    /// Commissions checked.
    pub commissions: usize,
    /// Every broken expectation; empty means the run passed.
    pub failures: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "chaos run (seed {})", self.seed)?;
        writeln!(f, "  orders               {} ({} returned)", self.orders, self.returned)?;
        writeln!(
            f,
            "  webhooks             {} events, {} resent under the same id, {} under a new id, shuffled",
            self.events, self.duplicates_same_id, self.duplicates_new_id
        )?;
        writeln!(
            f,
            "  workers              {} killed (SIGKILL), {} started, {} gave up at start",
            self.kills, self.worker_starts, self.worker_exits
        )?;
        writeln!(f, "  postgres restarts    {}", self.postgres_restarts)?;
        writeln!(f, "  http retries         {}", self.http_retries)?;
        writeln!(f, "  drive                {:.1} s", self.drive_seconds)?;
        writeln!(f, "  drain                {:.1} s", self.drain_seconds)?;
        writeln!(f, "  commissions checked  {}", self.commissions)?;
        if self.failures.is_empty() {
            write!(f, "  result               PASS")
        } else {
            writeln!(f, "  result               FAIL ({})", self.failures.len())?;
            for failure in self.failures.iter().take(50) {
                writeln!(f, "    - {failure}")?;
            }
            Ok(())
        }
    }
}

/// One order and what is done to it.
struct Planned {
    order: Value,
    /// Index of the buyer in the chain.
    buyer: usize,
    online: bool,
    returned: bool,
}

/// One webhook to send: channel, webhook id, body.
type Send = (&'static str, String, String);

/// The plan's level rates (`five_level_plan`).
const RATES: [&str; 5] = ["0.10", "0.05", "0.03", "0.02", "0.01"];
/// Members in the one chain every buyer sits in.
const CHAIN: usize = 8;

/// Runs the chaos and checks the outcome. Errors only when the run itself
/// could not be carried out; broken expectations are in `Report::failures`.
pub async fn run(cfg: &Config) -> Result<Report> {
    let cluster = OwnCluster::start("haat_chaos").await?;
    let mut app = TestApp::spawn_on(
        cluster.url.clone(),
        haat_platform::db::connect(&cluster.url, 4).await?,
        &[("HAAT_WORKER_HEARTBEAT_MS", "1000"), ("HAAT_WORKER_MISSED_HEARTBEATS", "3")],
    )
    .await;
    let mut fleet = Fleet::take_over(&mut app)?;
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut report = Report { seed: cfg.seed, ..Report::default() };

    app.create_plan(five_level_plan(7)).await;
    let products = [
        app.create_product("TEA-500", "450.00", "300.00", 1_000_000).await,
        app.create_product("HONEY-1", "800.00", "200.00", 1_000_000).await,
    ];
    let chain = app.create_chain(CHAIN).await;
    fleet.top_up(cfg.workers);

    let started = Instant::now();
    let mut chaos = Chaos::new(cfg, &cluster.spec);
    let planned = place_orders(&app, cfg, &chain, &products, &mut rng, &mut fleet, &mut chaos, &mut report).await?;
    let sends = webhooks(&planned, &mut rng, &mut report);
    deliver(&app, cfg, sends, &mut rng, &mut fleet, &mut chaos, &mut report).await?;
    chaos.finish(&mut report).await?;
    report.drive_seconds = started.elapsed().as_secs_f64();
    fleet.top_up(cfg.workers);
    report.kills = fleet.kills;
    let drained = Instant::now();
    if let Err(e) = drain(&app, cfg.drain_patience).await {
        report.failures.push(e.to_string());
    }
    report.drain_seconds = drained.elapsed().as_secs_f64();
    report.worker_starts = fleet.started;
    report.worker_exits = fleet.exits;
    check(&app, &chain, &planned, &mut report).await?;
    drop(fleet);
    drop(app);
    cluster.remove().await;
    Ok(report)
}

/// The worker processes of the run.
struct Fleet {
    env: Vec<(String, String)>,
    logs: PathBuf,
    children: Vec<Child>,
    started: usize,
    kills: usize,
    exits: usize,
}

impl Fleet {
    /// The app's first worker becomes the fleet's.
    fn take_over(app: &mut TestApp) -> Result<Self> {
        let logs = app.worker_log_path(0).parent().map(PathBuf::from).context("log folder")?;
        let mut fleet = Self { env: app.workers_env(), logs, children: Vec::new(), started: 1, kills: 0, exits: 0 };
        fleet.children.extend(app.take_workers());
        Ok(fleet)
    }

    fn start(&mut self) {
        let log = self.logs.join(format!("haat_chaos.worker{}.log", self.started));
        self.children.push(crate::spawn_worker(&self.env, &log));
        self.started += 1;
    }

    /// Forgets workers that exited by themselves (one started while Postgres
    /// was down gives up, as under a supervisor that would start it again).
    fn reap(&mut self) {
        let before = self.children.len();
        self.children.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        self.exits += before - self.children.len();
    }

    /// Keeps `n` workers running.
    fn top_up(&mut self, n: usize) {
        self.reap();
        while self.children.len() < n {
            self.start();
        }
    }

    /// SIGKILLs one worker at random and starts a replacement.
    async fn kill_one(&mut self, rng: &mut StdRng) {
        if self.children.is_empty() {
            return;
        }
        let i = rng.random_range(0..self.children.len());
        let mut child = self.children.swap_remove(i);
        if matches!(child.try_wait(), Ok(None)) && child.kill().await.is_ok() {
            self.kills += 1;
        } else {
            self.exits += 1;
        }
        self.start();
    }
}

/// When to kill, and the one Postgres restart.
struct Chaos {
    next_kill: Instant,
    kill_every_ms: (u64, u64),
    spec: ClusterSpec,
    restart: Option<tokio::task::JoinHandle<Result<()>>>,
}

impl Chaos {
    fn new(cfg: &Config, spec: &ClusterSpec) -> Self {
        Self { next_kill: Instant::now(), kill_every_ms: cfg.kill_every_ms, spec: spec.clone(), restart: None }
    }

    /// Kills a worker if its time has come, or if fewer than `owed` kills
    /// have happened yet.
    async fn tick(&mut self, fleet: &mut Fleet, rng: &mut StdRng, owed: usize) {
        if Instant::now() >= self.next_kill || fleet.kills < owed {
            fleet.kill_one(rng).await;
            let (lo, hi) = self.kill_every_ms;
            self.next_kill = Instant::now() + Duration::from_millis(rng.random_range(lo..=hi));
        }
    }

    /// Restarts Postgres (fast shutdown, then start) while traffic goes on.
    fn restart_postgres(&mut self) {
        if self.restart.is_some() {
            return;
        }
        let spec = self.spec.clone();
        self.restart = Some(tokio::task::spawn_blocking(move || {
            embedded_pg::stop(&spec, true)?;
            embedded_pg::ensure_running(&spec).map(|_| ())
        }));
    }

    async fn finish(&mut self, report: &mut Report) -> Result<()> {
        if let Some(restart) = self.restart.take() {
            restart.await?.context("restarting Postgres")?;
            report.postgres_restarts += 1;
        }
        Ok(())
    }
}

/// Places the orders (retrying through faults with the same idempotency
/// key) while killing workers.
#[allow(clippy::too_many_arguments)]
async fn place_orders(
    app: &TestApp,
    cfg: &Config,
    chain: &[Value],
    products: &[Value],
    rng: &mut StdRng,
    fleet: &mut Fleet,
    chaos: &mut Chaos,
    report: &mut Report,
) -> Result<Vec<Planned>> {
    let mut planned = Vec::with_capacity(cfg.orders);
    for batch in (0..cfg.orders).collect::<Vec<_>>().chunks(cfg.concurrency) {
        let mut requests = Vec::new();
        for _ in batch {
            let buyer = rng.random_range(1..CHAIN);
            let product = &products[rng.random_range(0..products.len())];
            let method = if rng.random_bool(0.5) { "online" } else { "cod" };
            let body = order_body(&chain[buyer], product, rng.random_range(1..=3), method).to_string();
            let returned = rng.random_bool(0.3);
            requests.push((buyer, method == "online", returned, body, uuid::Uuid::new_v4().to_string()));
        }
        let placed = futures::future::join_all(requests.iter().map(|(_, _, _, body, key)| {
            persist(|| {
                app.http
                    .post(format!("{}/v1/orders", app.base))
                    .bearer_auth(&app.admin_token)
                    .header("content-type", "application/json")
                    .header("idempotency-key", key.as_str())
                    .body(body.clone())
            })
        }))
        .await;
        for ((buyer, online, returned, _, _), result) in requests.into_iter().zip(placed) {
            let (order, retries) = result?;
            report.http_retries += retries;
            planned.push(Planned { order, buyer, online, returned });
        }
        chaos.tick(fleet, rng, 0).await;
    }
    report.orders = planned.len();
    report.returned = planned.iter().filter(|p| p.returned).count();
    Ok(planned)
}

/// Every order's events with their duplicates, shuffled across orders.
fn webhooks(planned: &[Planned], rng: &mut StdRng, report: &mut Report) -> Vec<Send> {
    let mut sends = Vec::new();
    for p in planned {
        let mut events = Vec::new();
        if p.online {
            events.push(("payments", paid_event(&p.order)));
        }
        events.push(("couriers", event("delivery.shipped", &p.order)));
        events.push(("couriers", delivered_event(&p.order)));
        if p.returned {
            events.push(("couriers", event("delivery.returned", &p.order)));
        }
        for (channel, body) in events {
            report.events += 1;
            let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
            sends.push((channel, id.clone(), body.to_string()));
            for _ in 0..rng.random_range(0..3) {
                if rng.random_bool(0.5) {
                    report.duplicates_same_id += 1;
                    sends.push((channel, id.clone(), body.to_string()));
                } else {
                    report.duplicates_new_id += 1;
                    sends.push((channel, format!("msg_{}", uuid::Uuid::new_v4().simple()), body.to_string()));
                }
            }
        }
    }
    sends.shuffle(rng);
    sends
}

fn event(kind: &str, order: &Value) -> Value {
    json!({"type": kind, "data": {"invoice_no": order["invoice_no"]}})
}

/// Sends the webhooks `concurrency` at a time, killing workers as it goes
/// and restarting Postgres halfway.
async fn deliver(
    app: &TestApp,
    cfg: &Config,
    sends: Vec<Send>,
    rng: &mut StdRng,
    fleet: &mut Fleet,
    chaos: &mut Chaos,
    report: &mut Report,
) -> Result<()> {
    let halfway = sends.len() / 2;
    let batches = sends.len().div_ceil(cfg.concurrency).max(1);
    for (n, batch) in sends.chunks(cfg.concurrency).enumerate() {
        if n * cfg.concurrency >= halfway {
            chaos.restart_postgres();
        }
        let results = futures::stream::iter(batch.iter().map(|(channel, id, body)| {
            persist(move || {
                let timestamp = chrono::Utc::now().timestamp();
                let signature = app.secret.sign(id, timestamp, body.as_bytes());
                app.http
                    .post(format!("{}/v1/webhooks/{channel}/generic", app.base))
                    .header("content-type", "application/json")
                    .header("webhook-id", id.as_str())
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body.clone())
            })
        }))
        .buffer_unordered(cfg.concurrency)
        .collect::<Vec<_>>()
        .await;
        for result in results {
            report.http_retries += result?.1;
        }
        // `min_kills` spread evenly over the batches.
        chaos.tick(fleet, rng, cfg.min_kills * (n + 1) / batches).await;
    }
    Ok(())
}

/// Sends a request until it is answered 2xx, as a gateway resends a webhook
/// (connection errors and 5xx are retried for up to a minute; a 4xx is a
/// failure of the run). Returns the answer and how many resends it took.
async fn persist<F>(request: F) -> Result<(Value, usize)>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut retries = 0;
    loop {
        match request().send().await {
            Ok(res) if res.status().is_success() => {
                let text = res.text().await.unwrap_or_default();
                return Ok((serde_json::from_str(&text).unwrap_or(Value::Null), retries));
            }
            Ok(res) if res.status().is_client_error() => {
                let status = res.status();
                bail!("refused with {status}: {}", res.text().await.unwrap_or_default());
            }
            Ok(_) | Err(_) if Instant::now() < deadline => {
                retries += 1;
                // Like a gateway's resend, a moment later.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(res) => bail!("still {} after a minute", res.status()),
            Err(e) => bail!("still unreachable after a minute: {e}"),
        }
    }
}

/// Waits until nothing due is waiting, running or due to be retried, and
/// every stored webhook is processed.
async fn drain(app: &TestApp, patience: Duration) -> Result<()> {
    let deadline = Instant::now() + patience;
    loop {
        let busy: Result<(i64, i64), sqlx::Error> = async {
            let jobs = sqlx::query_scalar(
                "SELECT count(*) FROM apalis.jobs
                  WHERE (status IN ('Pending', 'Queued', 'Running') AND run_at <= now() + interval '10 minutes')
                     OR (status = 'Failed' AND attempts < max_attempts)",
            )
            .fetch_one(&app.pool)
            .await?;
            let events = sqlx::query_scalar("SELECT count(*) FROM webhook_events WHERE processed_at IS NULL")
                .fetch_one(&app.pool)
                .await?;
            Ok((jobs, events))
        }
        .await;
        match busy {
            Ok((0, 0)) => return Ok(()),
            Ok((jobs, events)) if Instant::now() >= deadline => {
                bail!("not drained after {patience:?}: {jobs} jobs due, {events} webhooks unprocessed")
            }
            Err(e) if Instant::now() >= deadline => bail!("not drained after {patience:?}: {e}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Every expectation, each failure written down.
async fn check(app: &TestApp, chain: &[Value], planned: &[Planned], report: &mut Report) -> Result<()> {
    check_orders(app, planned, report).await;
    check_commissions(app, chain, planned, report).await?;
    let (status, audit) = app.admin("GET", "/v1/admin/audit", None).await;
    if status != StatusCode::OK || audit["ok"] != true {
        report.failures.push(format!("the audit failed: {audit}"));
    }
    let stuck: Vec<(String, String, i32, i32)> = sqlx::query_as(
        "SELECT job_type, status, attempts, max_attempts FROM apalis.jobs
          WHERE status IN ('Running', 'Queued', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts)",
    )
    .fetch_all(&app.pool)
    .await?;
    for (queue, status, attempts, max) in stuck {
        report.failures.push(format!("a {queue} job is {status} after {attempts} of {max} attempts"));
    }
    Ok(())
}

async fn check_orders(app: &TestApp, planned: &[Planned], report: &mut Report) {
    for p in planned {
        let id = p.order["id"].as_str().unwrap_or_default();
        let (_, order) = app.admin("GET", &format!("/v1/orders/{id}"), None).await;
        let expected = if p.returned { "returned" } else { "delivered" };
        if order["status"] != expected {
            report.failures.push(format!("order {id} is {} (expected {expected})", order["status"]));
        }
    }
}

/// Each order's commissions: exactly one per upline level, of BV × the
/// level's rate (to the cent, toward zero), wholly reversed when returned;
/// and each member's pending balance is the sum of its live ones.
async fn check_commissions(app: &TestApp, chain: &[Value], planned: &[Planned], report: &mut Report) -> Result<()> {
    let member_index: BTreeMap<String, usize> =
        chain.iter().enumerate().map(|(i, m)| (m["id"].as_str().unwrap_or_default().to_owned(), i)).collect();
    let mut expected: BTreeMap<(String, usize), (Decimal, bool)> = BTreeMap::new();
    let mut pending = vec![Decimal::ZERO; chain.len()];
    for p in planned {
        let id = p.order["id"].as_str().unwrap_or_default().to_owned();
        let bv: Decimal = p.order["bv"].as_str().and_then(|s| s.parse().ok()).context("order bv")?;
        for (level, rate) in RATES.iter().enumerate().take(p.buyer) {
            let beneficiary = p.buyer - 1 - level;
            let amount =
                (bv * rate.parse::<Decimal>()?).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
            expected.insert((id.clone(), beneficiary), (amount, p.returned));
            if !p.returned {
                pending[beneficiary] += amount;
            }
        }
    }
    let rows: Vec<(uuid::Uuid, uuid::Uuid, Decimal, Decimal)> =
        sqlx::query_as("SELECT order_id, beneficiary_id, amount, reversed_amount FROM commissions")
            .fetch_all(&app.pool)
            .await?;
    report.commissions = rows.len();
    let mut seen: BTreeMap<(String, usize), usize> = BTreeMap::new();
    for (order, beneficiary, amount, reversed) in rows {
        let who = member_index.get(&beneficiary.to_string()).copied().unwrap_or(usize::MAX);
        let key = (order.to_string(), who);
        *seen.entry(key.clone()).or_default() += 1;
        match expected.get(&key) {
            None => report.failures.push(format!("unexpected commission {amount} to member {who} on order {order}")),
            Some((want, returned)) => {
                let want_reversed = if *returned { *want } else { Decimal::ZERO };
                if amount != *want || reversed != want_reversed {
                    report.failures.push(format!(
                        "commission on order {order} to member {who}: {amount} reversed {reversed}, expected {want} reversed {want_reversed}"
                    ));
                }
            }
        }
    }
    for key in expected.keys() {
        match seen.get(key).copied().unwrap_or(0) {
            1 => {}
            n => report.failures.push(format!("order {} pays member {} {n} times (expected once)", key.0, key.1)),
        }
    }
    for (i, member) in chain.iter().enumerate() {
        let wallet = app.wallet(member).await;
        let want = format!("{:.2}", pending[i]);
        if wallet["pending"] != want.as_str() {
            report.failures.push(format!("member {i} has {} pending, expected {want}", wallet["pending"]));
        }
    }
    Ok(())
}
