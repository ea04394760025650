//! haat's job processes (apalis on Postgres). A process serves the queues it
//! is told to, each with its own concurrency; any number of processes may
//! run against one database.

pub mod cli;
pub mod handlers;
pub mod http;
pub mod mailer;
pub mod providers;
pub mod schedule;

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use apalis::layers::retry::backoff::{ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use apalis::layers::retry::{BackoffRetryPolicy, HasherRng, RetryPolicy};
use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use haat_domain::jobs::{
    CampaignTask, CascadeCommission, ClosePeriod, ConfirmPayment, CreditVolume, ExpirePoints, Job, Notify,
    ProcessWebhook, PruneJobs, ReleaseHold, ReverseOrder,
};
use haat_domain::settings::Settings;

use crate::handlers::WorkerState;

/// How often an idle worker polls besides LISTEN/NOTIFY (which says nothing
/// of jobs scheduled for later).
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Heartbeat period; a worker silent for `MISSED_HEARTBEATS` of them is
/// presumed dead and its jobs are handed to others.
const HEARTBEAT: Duration = Duration::from_secs(5);
const MISSED_HEARTBEATS: usize = 6;
/// How long SIGTERM waits for in-flight jobs.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The queues a process can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    /// `process_webhook`.
    Webhooks,
    /// `confirm_payment` (calls payment providers' APIs).
    Confirmations,
    /// `credit_volume`.
    Volume,
    /// `cascade_commission`.
    Commission,
    /// `release_hold`.
    Holds,
    /// `reverse_order`.
    Reversals,
    /// `notify`.
    Notifications,
    /// `close_period` (and the schedule that enqueues it).
    Periods,
    /// `campaign`: settlements at their deadlines, cashback releases.
    Campaigns,
    /// `expire_points` (and the daily schedule that enqueues it).
    Loyalty,
    /// `prune_jobs` (and the schedule that enqueues it).
    Maintenance,
}

impl QueueKind {
    /// Every queue, the default set.
    pub const ALL: [Self; 11] = [
        Self::Webhooks,
        Self::Confirmations,
        Self::Volume,
        Self::Commission,
        Self::Holds,
        Self::Reversals,
        Self::Notifications,
        Self::Periods,
        Self::Campaigns,
        Self::Loyalty,
        Self::Maintenance,
    ];
}

impl FromStr for QueueKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "webhooks" => Self::Webhooks,
            "confirmations" => Self::Confirmations,
            "reversals" => Self::Reversals,
            "volume" => Self::Volume,
            "commission" => Self::Commission,
            "holds" => Self::Holds,
            "notifications" => Self::Notifications,
            "periods" => Self::Periods,
            "campaigns" => Self::Campaigns,
            "loyalty" => Self::Loyalty,
            "maintenance" => Self::Maintenance,
            _ => bail!(
                "unknown queue {s:?}: expected webhooks, confirmations, volume, commission, holds, reversals, \
                 notifications, periods, campaigns, loyalty or maintenance"
            ),
        })
    }
}

/// Parses a queue list such as `webhooks=4,commission` (a missing `=N`
/// means `concurrency`). Empty means every queue at `concurrency`.
pub fn parse_queues(spec: &str, concurrency: usize) -> Result<Vec<(QueueKind, usize)>> {
    if !(1..=64).contains(&concurrency) {
        bail!("queue concurrency must be from 1 to 64");
    }
    if spec.trim().is_empty() {
        return Ok(QueueKind::ALL.iter().map(|q| (*q, concurrency)).collect());
    }
    spec.split(',')
        .map(|part| {
            let n: usize = match part.split_once('=') {
                Some((_, n)) => n.trim().parse().context("queue concurrency must be a whole number")?,
                None => concurrency,
            };
            let name = part.split_once('=').map_or(part, |(name, _)| name);
            if !(1..=64).contains(&n) {
                bail!("queue concurrency must be from 1 to 64");
            }
            Ok((name.trim().parse()?, n))
        })
        .collect()
}

fn storage<J: Job>(pool: &sqlx::PgPool) -> PostgresStorage<J> {
    let config = Config::default().queue(J::QUEUE).heartbeat_interval(HEARTBEAT).missed_heartbeats(MISSED_HEARTBEATS);
    PostgresStorage::new(pool).with_config(config)
}

/// Exponential backoff with jitter, `J::RETRIES` times in process; the
/// job row's `max_attempts` (set at enqueue) matches, so a job that
/// exhausts its retries is dead, not re-fetched.
fn retry_policy<J: Job>(backoff: Backoff) -> Result<BackoffRetryPolicy<ExponentialBackoff>> {
    let backoff = ExponentialBackoffMaker::new(backoff.first, backoff.most, 0.5, HasherRng::default())
        .context("backoff settings")?
        .make_backoff();
    Ok(RetryPolicy::retries(J::RETRIES).with_backoff(backoff))
}

/// The first and the longest delay between a job's attempts.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    first: Duration,
    most: Duration,
}

macro_rules! register {
    ($monitor:expr, $pool:expr, $state:expr, $job:ty, $handler:path, $n:expr, $name:expr, $backoff:expr) => {{
        let pool = $pool.clone();
        let state = $state.clone();
        let name = $name;
        let n = $n;
        let policy = retry_policy::<$job>($backoff)?;
        $monitor.register(move |run| {
            WorkerBuilder::new(format!("{name}-{}-{run}", <$job as Job>::QUEUE))
                .backend(storage::<$job>(&pool).with_pubsub().poll_with_interval(POLL_INTERVAL))
                .data(state.clone())
                .concurrency(n)
                .retry(policy.clone())
                .parallelize(tokio::spawn)
                .build(move |job: $job, state: Data<WorkerState>| async move {
                    // apalis retries a failed job silently: say what failed.
                    let key = job.key();
                    let started = std::time::Instant::now();
                    let result = $handler(job, state).await;
                    let queue = <$job as Job>::QUEUE;
                    metrics::histogram!("haat_job_duration_seconds", "queue" => queue)
                        .record(started.elapsed().as_secs_f64());
                    let outcome = if result.is_ok() { "ok" } else { "error" };
                    metrics::counter!("haat_job_runs_total", "queue" => queue, "outcome" => outcome).increment(1);
                    if let Err(e) = &result {
                        tracing::warn!(job = %key, error = %e, "job failed; it is retried until its attempts run out");
                    }
                    result
                })
        })
    }};
}

/// Connects, migrates and serves `queues` until `shutdown` resolves, then
/// finishes in-flight jobs (bounded) and returns.
pub async fn run(
    settings: Settings,
    queues: Vec<(QueueKind, usize)>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let metrics = haat_domain::observability::install()?;
    let url = haat_domain::db::resolve_database_url(settings.database_url.as_deref()).await?;
    // Each queue's storage holds one pooled connection for LISTEN/NOTIFY for
    // as long as it runs; HAAT_DB_POOL counts the connections jobs work with.
    let listeners = u32::try_from(queues.len()).unwrap_or(u32::MAX);
    let pool = haat_domain::db::connect(&url, settings.db_pool.saturating_add(listeners)).await?;
    haat_domain::db::migrate(&pool).await?;
    let state = WorkerState {
        pool: pool.clone(),
        currency: settings.currency.clone(),
        sender: mailer::Sender::from_settings(&settings)?,
        return_window_days: settings.return_window_days,
        providers: std::sync::Arc::new(settings.providers.clone()),
        http: providers::client()?,
        time_zone: settings.time_zone,
        job_retention: chrono::Duration::hours(i64::from(settings.job_retention_hours)),
    };
    // A unique name per process start: a restarted process must not inherit
    // the jobs its dead predecessor left running.
    let name = format!("haat-worker-{}", uuid::Uuid::now_v7());
    let backoff = Backoff {
        first: Duration::from_millis(settings.retry_first_ms),
        most: Duration::from_millis(settings.retry_most_ms),
    };
    let mut monitor = Monitor::new().shutdown_timeout(SHUTDOWN_GRACE).should_restart(|_, _| true);
    for (queue, n) in queues {
        monitor = match queue {
            QueueKind::Webhooks => {
                register!(monitor, pool, state, ProcessWebhook, handlers::process_webhook, n, name.clone(), backoff)
            }
            QueueKind::Volume => {
                register!(monitor, pool, state, CreditVolume, handlers::credit_volume, n, name.clone(), backoff)
            }
            QueueKind::Commission => {
                register!(
                    monitor,
                    pool,
                    state,
                    CascadeCommission,
                    handlers::cascade_commission,
                    n,
                    name.clone(),
                    backoff
                )
            }
            QueueKind::Holds => {
                register!(monitor, pool, state, ReleaseHold, handlers::release_hold, n, name.clone(), backoff)
            }
            QueueKind::Confirmations => {
                register!(monitor, pool, state, ConfirmPayment, handlers::confirm_payment, n, name.clone(), backoff)
            }
            QueueKind::Reversals => {
                register!(monitor, pool, state, ReverseOrder, handlers::reverse_order, n, name.clone(), backoff)
            }
            QueueKind::Notifications => {
                register!(monitor, pool, state, Notify, handlers::notify, n, name.clone(), backoff)
            }
            QueueKind::Periods => {
                tokio::spawn(schedule::period_close(
                    pool.clone(),
                    settings.period_close_cron.clone(),
                    settings.time_zone,
                ));
                register!(monitor, pool, state, ClosePeriod, handlers::close_period, n, name.clone(), backoff)
            }
            QueueKind::Campaigns => {
                register!(monitor, pool, state, CampaignTask, handlers::campaign, n, name.clone(), backoff)
            }
            QueueKind::Loyalty => {
                tokio::spawn(schedule::points_expiry(pool.clone(), settings.points_expiry_cron.clone()));
                register!(monitor, pool, state, ExpirePoints, handlers::expire_points, n, name.clone(), backoff)
            }
            QueueKind::Maintenance => {
                tokio::spawn(schedule::prune(pool.clone(), settings.prune_cron.clone()));
                register!(monitor, pool, state, PruneJobs, handlers::prune_jobs, n, name.clone(), backoff)
            }
        };
    }
    let http = http::serve(settings.worker_http_addr, pool.clone(), metrics).await?;
    println!("haat-worker {name} running; metrics on http://{http}/metrics");
    tracing::info!(worker = name, %http, "running");
    monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await
        .context("running workers")
}
