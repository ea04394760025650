//! The chaos run: many orders through the HTTP api with their signed
//! webhooks — duplicated under the same and new ids, shuffled across orders,
//! some orders returned — while worker processes are killed with SIGKILL at
//! random moments and restarted, the api is SIGKILLed mid-request and
//! restarted (clients retrying with the same Idempotency-Key and webhook
//! ids, and waiting out a 409's `Retry-After`), Postgres is restarted once
//! and crashed once (`-m immediate`, crash recovery at its next start), and
//! the SMTP server is down for a stretch, and SSLCommerz's validation API
//! (half the online orders are paid through it) answers 500 and slowly
//! for a stretch. Once the queues drain, every order
//! must be in its expected final state with exactly its expected commissions
//! (exact amounts), the wallets must hold exactly those, every email must
//! have been sent and received, the audit must pass, and no job may be stuck
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
use crate::providers::{sslcommerz_ipn, valid_ipn_fields, validation_answer};
use crate::standin::SSL_STORE_PASSWORD;
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
    /// Times the api is SIGKILLed mid-request and restarted (one while
    /// orders are placed, the rest spread over the webhooks).
    pub api_kills: usize,
    /// Buyers of a cashback campaign whose settlement (one batch job) is
    /// killed mid-batch.
    pub campaign_buyers: usize,
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
            api_kills: 2,
            campaign_buyers: 2000,
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
    /// Orders paid through SSLCommerz.
    pub sslcommerz: usize,
    /// SSLCommerz validation calls answered 500 on purpose.
    pub validation_500s: usize,
    /// SSLCommerz validation calls answered slowly on purpose.
    pub validation_slow: usize,
    /// SSLCommerz validation calls received in all.
    pub validation_calls: usize,
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
    /// Postgres restarts (clean, fast shutdown).
    pub postgres_restarts: usize,
    /// Postgres crashes (immediate shutdown, crash recovery at the start).
    pub postgres_crashes: usize,
    /// api SIGKILLs (each followed by a start on the same address).
    pub api_kills: usize,
    /// Seconds the SMTP server was down.
    pub smtp_down_seconds: f64,
    /// 409s for a key still in flight, retried after their `Retry-After`.
    pub conflicts: usize,
    /// The longest a request took from its first failed try to its answer.
    pub longest_retry_seconds: f64,
    /// Buyers of the cashback campaign settled during the run.
    pub campaign_buyers: usize,
    /// Times the workers were all killed while the campaign's settlement
    /// job was running and before it was done.
    pub batch_kills: usize,
    /// Emails written (each must be received).
    pub emails: usize,
    /// Emails received more than once (same Message-ID): a worker killed
    /// between the send and its mark sends it again.
    pub emails_resent: usize,
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
        writeln!(
            f,
            "  orders               {} ({} returned, {} paid through SSLCommerz)",
            self.orders, self.returned, self.sslcommerz
        )?;
        writeln!(
            f,
            "  sslcommerz           {} validation calls: {} answered 500, {} slowly ({:?})",
            self.validation_calls, self.validation_500s, self.validation_slow, VALIDATION_DELAY
        )?;
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
        writeln!(f, "  postgres             {} restarted, {} crashed", self.postgres_restarts, self.postgres_crashes)?;
        writeln!(f, "  api                  {} killed (SIGKILL) and restarted", self.api_kills)?;
        writeln!(f, "  smtp down            {:.1} s", self.smtp_down_seconds)?;
        writeln!(
            f,
            "  http retries         {} ({} after a 409's Retry-After), longest {:.2} s from first failure to answer",
            self.http_retries, self.conflicts, self.longest_retry_seconds
        )?;
        writeln!(f, "  emails               {} sent, {} received twice", self.emails, self.emails_resent)?;
        writeln!(
            f,
            "  campaign             {} buyers; every worker killed {} times mid-settlement",
            self.campaign_buyers, self.batch_kills
        )?;
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
    /// Paid through SSLCommerz (its IPN, confirmed by its validation API)
    /// rather than the generic gateway.
    sslcommerz: bool,
    returned: bool,
}

/// One webhook to send.
enum Send {
    /// A generic provider's signed event: channel, webhook id, body.
    Signed(&'static str, String, String),
    /// An SSLCommerz IPN, form-encoded and signed as theirs are.
    Ipn(String),
}

impl Send {
    fn request(&self, app: &TestApp) -> reqwest::RequestBuilder {
        match self {
            Self::Signed(channel, id, body) => {
                let timestamp = chrono::Utc::now().timestamp();
                let signature = app.secret.sign(id, timestamp, body.as_bytes());
                app.http
                    .post(format!("{}/v1/webhooks/{channel}/generic", app.base))
                    .header("content-type", "application/json")
                    .header("webhook-id", id.as_str())
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body.clone())
            }
            Self::Ipn(form) => app
                .http
                .post(format!("{}/v1/webhooks/payments/sslcommerz", app.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.clone()),
        }
    }
}

/// SSLCommerz's validation API's bad stretch, once half the webhooks are
/// sent: this many calls answered 500, then this many answered slowly.
const VALIDATION_500S: usize = 3;
const VALIDATION_SLOW: usize = 2;
const VALIDATION_DELAY: Duration = Duration::from_millis(1500);

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
    let campaign = Campaign::seed(&app, cfg.campaign_buyers).await;
    report.campaign_buyers = cfg.campaign_buyers;
    fleet.top_up(cfg.workers);

    let started = Instant::now();
    let api = app.take_api().context("the api process")?;
    let mut chaos = Chaos::new(cfg, &cluster.spec, api, &app);
    let planned = place_orders(&app, cfg, &chain, &products, &mut rng, &mut fleet, &mut chaos, &mut report).await?;
    let sends = webhooks(&planned, &mut rng, &mut report);
    deliver(&app, cfg, sends, &campaign, &mut rng, &mut fleet, &mut chaos, &mut report).await?;
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
    report.validation_calls = app.standin.calls("validation");
    check(&app, &chain, &planned, &mut report).await?;
    campaign.check(&app, &mut report).await?;
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

    /// SIGKILLs every worker at once and starts as many again.
    async fn kill_all(&mut self) {
        let n = self.children.len();
        for mut child in std::mem::take(&mut self.children) {
            if child.kill().await.is_ok() {
                self.kills += 1;
            }
        }
        self.top_up(n);
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

/// The faults and when they strike.
struct Chaos {
    next_kill: Instant,
    kill_every_ms: (u64, u64),
    spec: ClusterSpec,
    /// Postgres faults still to come: at which share of the webhooks, and
    /// whether clean (fast) or a crash (immediate).
    postgres: Vec<(f64, bool)>,
    postgres_now: Option<(bool, tokio::task::JoinHandle<Result<()>>)>,
    api: crate::ApiProcess,
    smtp: crate::SmtpSink,
    standin: crate::Standin,
    validation_faulted: bool,
    smtp_down_since: Option<Instant>,
    smtp_went_down: bool,
    smtp_down_total: Duration,
}

/// When, as a share of the webhooks sent, the SMTP server goes down and
/// comes back.
const SMTP_DOWN: (f64, f64) = (0.25, 0.5);

impl Chaos {
    fn new(cfg: &Config, spec: &ClusterSpec, api: crate::ApiProcess, app: &TestApp) -> Self {
        Self {
            next_kill: Instant::now(),
            kill_every_ms: cfg.kill_every_ms,
            spec: spec.clone(),
            postgres: vec![(1.0 / 3.0, true), (2.0 / 3.0, false)],
            postgres_now: None,
            api,
            smtp: app.smtp.clone(),
            standin: app.standin.clone(),
            validation_faulted: false,
            smtp_down_since: None,
            smtp_went_down: false,
            smtp_down_total: Duration::ZERO,
        }
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

    /// The faults due once `share` of the webhooks are sent: the SMTP
    /// server's outage, and the next Postgres fault once the last is over.
    async fn at_share(&mut self, share: f64, report: &mut Report) -> Result<()> {
        if share >= SMTP_DOWN.0 && !self.smtp_went_down {
            self.smtp.go_down();
            self.smtp_down_since = Some(Instant::now());
            self.smtp_went_down = true;
        }
        if share >= SMTP_DOWN.1 {
            self.smtp_back();
        }
        if share >= 0.5 && !self.validation_faulted {
            self.validation_faulted = true;
            self.standin.fail_next_with("validation", VALIDATION_500S, StatusCode::INTERNAL_SERVER_ERROR);
            for _ in 0..VALIDATION_SLOW {
                self.standin.delay_next("validation", VALIDATION_DELAY);
            }
            report.validation_500s = VALIDATION_500S;
            report.validation_slow = VALIDATION_SLOW;
        }
        if self.postgres_now.as_ref().is_some_and(|(_, h)| h.is_finished()) {
            self.postgres_done(report).await?;
        }
        if self.postgres_now.is_none() && self.postgres.first().is_some_and(|(at, _)| share >= *at) {
            let (_, fast) = self.postgres.remove(0);
            let spec = self.spec.clone();
            let fault = tokio::task::spawn_blocking(move || {
                embedded_pg::stop(&spec, fast)?;
                embedded_pg::ensure_running(&spec).map(|_| ())
            });
            self.postgres_now = Some((fast, fault));
        }
        Ok(())
    }

    fn smtp_back(&mut self) {
        if let Some(since) = self.smtp_down_since.take() {
            self.smtp.come_up();
            self.smtp_down_total += since.elapsed();
        }
    }

    async fn postgres_done(&mut self, report: &mut Report) -> Result<()> {
        if let Some((fast, fault)) = self.postgres_now.take() {
            fault.await?.context("restarting Postgres")?;
            if fast {
                report.postgres_restarts += 1;
            } else {
                report.postgres_crashes += 1;
            }
        }
        Ok(())
    }

    /// Kills the api `after` a moment, while `requests` are in flight, and
    /// starts it again on the same address.
    async fn kill_api_during<T>(&mut self, after: Duration, requests: impl Future<Output = T>) -> T {
        let api = &mut self.api;
        let (out, ()) = tokio::join!(requests, async move {
            tokio::time::sleep(after).await;
            api.kill_and_restart().await;
        });
        out
    }

    /// Ends every fault: whatever did not strike yet strikes now.
    async fn finish(&mut self, report: &mut Report) -> Result<()> {
        while !self.postgres.is_empty() || self.postgres_now.is_some() {
            self.postgres_done(report).await?;
            self.at_share(1.0, report).await?;
        }
        self.smtp_back();
        report.smtp_down_seconds = self.smtp_down_total.as_secs_f64();
        report.api_kills = self.api.restarts;
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
    let batches = cfg.orders.div_ceil(cfg.concurrency).max(1);
    for (n, batch) in (0..cfg.orders).collect::<Vec<_>>().chunks(cfg.concurrency).enumerate() {
        let mut requests = Vec::new();
        for _ in batch {
            let buyer = rng.random_range(1..CHAIN);
            let product = &products[rng.random_range(0..products.len())];
            let method = if rng.random_bool(0.5) { "online" } else { "cod" };
            let body = order_body(&chain[buyer], product, rng.random_range(1..=3), method).to_string();
            let returned = rng.random_bool(0.3);
            requests.push((buyer, method == "online", returned, body, uuid::Uuid::new_v4().to_string()));
        }
        let placing = futures::future::join_all(requests.iter().map(|(_, _, _, body, key)| {
            persist(|| {
                app.http
                    .post(format!("{}/v1/orders", app.base))
                    .bearer_auth(&app.admin_token)
                    .header("content-type", "application/json")
                    .header("idempotency-key", key.as_str())
                    .body(body.clone())
            })
        }));
        // The api dies once with orders in flight, halfway through.
        let placed = if cfg.api_kills > 0 && n == batches / 2 {
            let after = Duration::from_millis(rng.random_range(0..20));
            chaos.kill_api_during(after, placing).await
        } else {
            placing.await
        };
        for ((buyer, online, returned, _, _), result) in requests.into_iter().zip(placed) {
            let answer = result?;
            answer.count(report);
            let sslcommerz = online && rng.random_bool(0.5);
            if sslcommerz {
                let val_id = val_id(&answer.body);
                let total = answer.body["total"].as_str().unwrap_or_default();
                app.standin.register_validation(&val_id, validation_answer(&answer.body, &val_id, total));
            }
            planned.push(Planned { order: answer.body, buyer, online, sslcommerz, returned });
        }
        chaos.tick(fleet, rng, 0).await;
    }
    report.orders = planned.len();
    report.returned = planned.iter().filter(|p| p.returned).count();
    report.sslcommerz = planned.iter().filter(|p| p.sslcommerz).count();
    Ok(planned)
}

/// The validation id SSLCommerz gives an order's payment.
fn val_id(order: &Value) -> String {
    format!("VAL-{}", order["invoice_no"].as_str().unwrap_or_default())
}

/// An order's IPN as SSLCommerz posts it.
fn ipn(order: &Value) -> String {
    let fields = valid_ipn_fields(order, &val_id(order));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sslcommerz_ipn(&refs, SSL_STORE_PASSWORD)
}

/// Every order's events with their duplicates, shuffled across orders.
fn webhooks(planned: &[Planned], rng: &mut StdRng, report: &mut Report) -> Vec<Send> {
    let mut sends = Vec::new();
    for p in planned {
        if p.sslcommerz {
            report.events += 1;
            let form = ipn(&p.order);
            for _ in 0..rng.random_range(0..3) {
                // SSLCommerz resends the same IPN.
                report.duplicates_same_id += 1;
                sends.push(Send::Ipn(form.clone()));
            }
            sends.push(Send::Ipn(form));
        }
        let mut events = Vec::new();
        if p.online && !p.sslcommerz {
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
            sends.push(Send::Signed(channel, id.clone(), body.to_string()));
            for _ in 0..rng.random_range(0..3) {
                if rng.random_bool(0.5) {
                    report.duplicates_same_id += 1;
                    sends.push(Send::Signed(channel, id.clone(), body.to_string()));
                } else {
                    report.duplicates_new_id += 1;
                    let new_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
                    sends.push(Send::Signed(channel, new_id, body.to_string()));
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
#[allow(clippy::too_many_arguments)]
async fn deliver(
    app: &TestApp,
    cfg: &Config,
    sends: Vec<Send>,
    campaign: &Campaign,
    rng: &mut StdRng,
    fleet: &mut Fleet,
    chaos: &mut Chaos,
    report: &mut Report,
) -> Result<()> {
    let batches = sends.len().div_ceil(cfg.concurrency).max(1);
    // The api's other deaths, spread evenly over the webhooks.
    let later_kills = cfg.api_kills.saturating_sub(1);
    let api_dies_at: Vec<usize> = (1..=later_kills).map(|k| k * batches / (later_kills + 1)).collect();
    for (n, batch) in sends.chunks(cfg.concurrency).enumerate() {
        #[allow(clippy::cast_precision_loss)] // shares of a few thousand batches
        let share = n as f64 / batches as f64;
        chaos.at_share(share, report).await?;
        if share >= CAMPAIGN_AT && report.batch_kills == 0 && !campaign.opened() {
            campaign.open_and_kill_mid_settlement(app, fleet, report).await?;
        }
        let sending = futures::stream::iter(batch.iter().map(|send| persist(move || send.request(app))))
            .buffer_unordered(cfg.concurrency)
            .collect::<Vec<_>>();
        let results = if api_dies_at.contains(&n) {
            let after = Duration::from_millis(rng.random_range(0..20));
            chaos.kill_api_during(after, sending).await
        } else {
            sending.await
        };
        for result in results {
            result?.count(report);
        }
        // `min_kills` spread evenly over the batches.
        chaos.tick(fleet, rng, cfg.min_kills * (n + 1) / batches).await;
    }
    Ok(())
}

/// When, as a share of the webhooks sent, the campaign is opened.
const CAMPAIGN_AT: f64 = 0.75;
/// The campaign's course: its price, and each buyer's 10% cashback.
const COURSE_PRICE: &str = "1500.00";
const CASHBACK: &str = "150.00";

/// A cashback campaign with thousands of past buyers, its deadline passed:
/// once created it settles at once, in one batch job.
struct Campaign {
    product: Value,
    buyers: Vec<uuid::Uuid>,
    opened: std::sync::OnceLock<Value>,
}

impl Campaign {
    /// Seeds the buyers and their purchases (in bulk, through the domain).
    async fn seed(app: &TestApp, buyers: usize) -> Self {
        let product = app.create_product("COURSE-X", COURSE_PRICE, "1.00", 1_000_000).await;
        let ids = crate::seed_buyers(app, buyers).await;
        crate::seed_purchases(app, &product, &ids, crate::in_window).await;
        Self { product, buyers: ids, opened: std::sync::OnceLock::new() }
    }

    fn opened(&self) -> bool {
        self.opened.get().is_some() || self.buyers.is_empty()
    }

    /// Creates the campaign, waits until its settlement runs, and kills every
    /// worker while it does.
    async fn open_and_kill_mid_settlement(&self, app: &TestApp, fleet: &mut Fleet, report: &mut Report) -> Result<()> {
        let units = i64::try_from(self.buyers.len())?;
        let body = crate::course_campaign(&self.product, units, units * 10);
        let answer = persist(|| {
            app.http
                .post(format!("{}/v1/admin/campaigns", app.base))
                .bearer_auth(&app.admin_token)
                .header("content-type", "application/json")
                .body(body.to_string())
        })
        .await?;
        answer.count(report);
        self.opened.set(answer.body).ok();
        let running = "SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.campaigns' AND status = 'Running'";
        crate::eventually("the settlement runs", || async {
            let n: i64 = sqlx::query_scalar(running).fetch_one(&app.pool).await.ok()?;
            (n > 0).then_some(())
        })
        .await;
        fleet.kill_all().await;
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.campaigns' AND status = 'Done'",
        )
        .fetch_one(&app.pool)
        .await?;
        if done == 0 {
            report.batch_kills += 1;
        }
        Ok(())
    }

    /// Settled once: paid, every buyer holding exactly one cashback.
    async fn check(&self, app: &TestApp, report: &mut Report) -> Result<()> {
        let Some(campaign) = self.opened.get() else { return Ok(()) };
        let path = format!("/v1/admin/campaigns/{}", campaign["id"].as_str().unwrap_or_default());
        let (_, c) = app.admin("GET", &path, None).await;
        let s = &c["settlement"];
        let units = i64::try_from(self.buyers.len())?;
        let total = Decimal::from(units) * CASHBACK.parse::<Decimal>()?;
        if c["status"] != "settled"
            || s["decision"] != "paid"
            || s["paid_purchases"] != units
            || s["paid_total"] != format!("{total:.2}").as_str()
        {
            report.failures.push(format!("the campaign is not settled as expected: {c}"));
        }
        let holding = crate::buyers_holding(app, &self.buyers, "pending", CASHBACK).await;
        if holding != units {
            report.failures.push(format!("{holding} of {units} buyers hold their {CASHBACK} cashback"));
        }
        let entries = crate::entries_of(app, "cashback").await;
        if entries != units {
            report.failures.push(format!("{entries} cashback entries for {units} buyers"));
        }
        Ok(())
    }
}

/// A request's answer and what it took to get it.
struct Answered {
    body: Value,
    /// Tries after the first.
    retries: usize,
    /// Of those, tries after a 409 for the key in flight.
    conflicts: usize,
    /// From the first failed try to the answer (zero if none failed).
    retry_span: Duration,
}

impl Answered {
    fn count(&self, report: &mut Report) {
        report.http_retries += self.retries;
        report.conflicts += self.conflicts;
        report.longest_retry_seconds = report.longest_retry_seconds.max(self.retry_span.as_secs_f64());
    }
}

/// Sends a request until it is answered 2xx, as a gateway resends a webhook
/// or a careful client retries (connection errors and 5xx are retried for
/// up to a minute; a 409 for the same key still in flight after its
/// `Retry-After`; any other 4xx is a failure of the run).
async fn persist<F>(request: F) -> Result<Answered>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut retries, mut conflicts, mut first_failure) = (0, 0, None::<Instant>);
    loop {
        let pause = match request().send().await {
            Ok(res) if res.status().is_success() => {
                let text = res.text().await.unwrap_or_default();
                let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                let retry_span = first_failure.map(|t| t.elapsed()).unwrap_or_default();
                return Ok(Answered { body, retries, conflicts, retry_span });
            }
            Ok(res) if res.status() == StatusCode::CONFLICT && Instant::now() >= deadline => {
                bail!("still in flight after a minute: {}", res.text().await.unwrap_or_default())
            }
            Ok(res) if res.status() == StatusCode::CONFLICT && res.headers().contains_key("retry-after") => {
                conflicts += 1;
                let secs = res.headers()["retry-after"].to_str().ok().and_then(|v| v.parse().ok()).unwrap_or(1);
                Duration::from_secs(secs)
            }
            Ok(res) if res.status().is_client_error() => {
                let status = res.status();
                bail!("refused with {status}: {}", res.text().await.unwrap_or_default());
            }
            Ok(res) if Instant::now() >= deadline => bail!("still {} after a minute", res.status()),
            Err(e) if Instant::now() >= deadline => bail!("still unreachable after a minute: {e}"),
            // Like a gateway's resend, a moment later.
            Ok(_) | Err(_) => Duration::from_millis(200),
        };
        retries += 1;
        first_failure.get_or_insert_with(Instant::now);
        tokio::time::sleep(pause).await;
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
    check_emails(app, report).await?;
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
    let unprocessed: Vec<UnprocessedWebhook> = sqlx::query_as(
        "SELECT e.id, e.provider, j.status, j.lock_by, j.last_result::text
           FROM webhook_events e
           LEFT JOIN apalis.jobs j ON j.idempotency_key = 'webhook:' || e.id
          WHERE e.processed_at IS NULL",
    )
    .fetch_all(&app.pool)
    .await?;
    for (event, provider, status, lock_by, last) in unprocessed {
        report.failures.push(format!(
            "{provider} webhook {event} is unprocessed; its job: {status:?} held by {lock_by:?}, last result {last:?}"
        ));
    }
    Ok(())
}

/// A webhook left unprocessed: its id and provider, and its job's status,
/// holder and last result.
type UnprocessedWebhook = (uuid::Uuid, String, Option<String>, Option<String>, Option<String>);

/// Every email written was sent, marked sent, and received under its own
/// Message-ID; nothing was received that was not written.
async fn check_emails(app: &TestApp, report: &mut Report) -> Result<()> {
    let rows: Vec<(uuid::Uuid, String)> =
        sqlx::query_as("SELECT id, status FROM notifications").fetch_all(&app.pool).await?;
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for mail in app.smtp.messages() {
        let id = mail.message_id().unwrap_or_default();
        *received.entry(id.split('@').next().unwrap_or_default().to_owned()).or_default() += 1;
    }
    report.emails = rows.len();
    for (id, status) in rows {
        if status != "sent" {
            report.failures.push(format!("email {id} is {status}"));
        }
        match received.remove(&id.to_string()) {
            None => report.failures.push(format!("email {id} was never received")),
            Some(n) => report.emails_resent += n - 1,
        }
    }
    for (id, n) in received {
        report.failures.push(format!("{n} email(s) received with Message-ID {id:?}, which no email row has"));
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
