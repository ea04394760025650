//! haat's job processes (apalis on Postgres). A process serves the queues it
//! is told to, each with its own concurrency; any number of processes may
//! run against one database.

pub mod cli;
pub mod handlers;
pub mod http;
pub mod mailer;
pub mod resume;
pub mod schedule;
pub mod wake;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use apalis::layers::retry::backoff::{ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use apalis::layers::retry::{BackoffRetryPolicy, HasherRng, RetryPolicy};
use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use haat_domain::jobs::retry::{NextAttempt, RetrySchedule};
use haat_domain::jobs::{
    BookShipment, BookShipments, CampaignTask, CascadeCommission, CheckPreparation, ClosePeriod, ConfirmPayment,
    CreditVolume, DeliverEvent, ExpireOrder, ExpirePoints, Job, Notify, ProcessWebhook, PruneJobs, ReleaseHold,
    ReverseOrder, SimulatePlan,
};
use haat_platform::settings::Settings;
use tracing::Instrument;

use crate::handlers::WorkerState;

/// How long SIGTERM waits for in-flight jobs.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The queues a process can serve (the one list is `jobs::QUEUES`).
pub use haat_domain::jobs::Queue as QueueKind;

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
            let name = name.trim();
            let queue = QueueKind::parse(name)
                .ok_or_else(|| anyhow::anyhow!("unknown queue {name:?}: expected {}", QueueKind::names()))?;
            Ok((queue, n))
        })
        .collect()
}

/// A queue's storage: a worker silent for `missed` heartbeats is presumed
/// dead and its running jobs are handed to the others.
fn storage<J: Job>(pool: &sqlx::PgPool, heartbeat: Duration, missed: u32) -> PostgresStorage<J> {
    let missed = usize::try_from(missed).unwrap_or(usize::MAX);
    let config = Config::default().queue(J::QUEUE).heartbeat_interval(heartbeat).missed_heartbeats(missed);
    PostgresStorage::new(pool).with_config(config)
}

/// Exponential backoff with jitter for the retries short enough to wait in
/// process; the rest are scheduled in the job table by `after_failure`.
fn retry_policy<J: Job>(retry: RetrySchedule) -> Result<BackoffRetryPolicy<ExponentialBackoff>> {
    let backoff =
        ExponentialBackoffMaker::new(retry.first, retry.in_process.max(retry.first), 0.5, HasherRng::default())
            .context("backoff settings")?
            .make_backoff();
    Ok(RetryPolicy::retries(retry.in_process_retries(J::RETRIES)).with_backoff(backoff))
}

/// After a failed attempt: says what failed and what follows, and moves a
/// long-delayed next attempt into the future in the job table (the job row
/// still belongs to this worker, so nobody fetches it meanwhile).
/// The queue is woken when that attempt is due (`wake`), not at the next
/// due check.
async fn after_failure<J: Job>(
    state: &WorkerState,
    queue: &std::sync::Arc<tokio::sync::Notify>,
    task: &TaskId,
    attempt: usize,
    error: &BoxDynError,
) {
    let jitter: f64 = rand::random();
    match state.retry.after_failure(attempt, J::RETRIES, jitter) {
        NextAttempt::InProcess => {
            tracing::warn!(error = %error, "job failed; it runs again in this worker shortly");
        }
        NextAttempt::Scheduled(delay) => {
            let deferred = async {
                let mut conn = state.pool.acquire().await?;
                haat_domain::jobs::retry::defer(&mut conn, &task.to_string(), delay).await
            };
            match deferred.await {
                Ok(()) => {
                    wake::wake_after(queue.clone(), delay);
                    tracing::warn!(
                        error = %error,
                        next_attempt_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "job failed; its next attempt is scheduled"
                    )
                }
                // The failure is still recorded; the job comes back at once.
                Err(e) => {
                    tracing::warn!(error = %error, defer_error = %e, "job failed; its next attempt could not be delayed")
                }
            }
        }
        NextAttempt::Dead => {
            tracing::error!(error = %error, "job failed on its last attempt and is dead until an admin retries it");
        }
    }
}

/// The span every line a job logs is in: its queue, key, row id, attempt
/// and, for a job about one order, the order.
fn job_span<J: Job>(job: &J, task: &TaskId, attempt: usize) -> tracing::Span {
    let order_id = job.order_id().map(tracing::field::display);
    tracing::info_span!("job", queue = J::QUEUE, job = %job.key(), task = %task, attempt, order_id)
}

/// What every queue of one process is registered with.
struct Registry {
    pool: sqlx::PgPool,
    state: WorkerState,
    /// The process's unique name (each queue's worker is named after it).
    name: String,
    retry: RetrySchedule,
    heartbeat: Duration,
    missed_heartbeats: u32,
    wakeups: wake::Wakeups,
    /// The tasks whose handler runs in this process now.
    executing: resume::Executing,
}

/// Registers the worker of job kind `$job` (handled by `$handler`, `$n` at
/// a time) on `$monitor`, from the process's `$registry`.
macro_rules! register {
    ($monitor:expr, $registry:expr, $job:ty, $handler:path, $n:expr) => {{
        let signal = $registry.wakeups.signal(<$job as Job>::QUEUE);
        let pool = $registry.pool.clone();
        let state = $registry.state.clone();
        let name = $registry.name.clone();
        let n = $n;
        let policy = retry_policy::<$job>($registry.retry)?;
        let (heartbeat, missed) = ($registry.heartbeat, $registry.missed_heartbeats);
        let wakeups = $registry.wakeups.clone();
        let executing = $registry.executing.clone();
        let restarts =
            resume::Restarts::new(pool.clone(), &name, <$job as Job>::QUEUE, executing.clone(), signal.clone());
        $monitor.register(move |run| {
            let retry_wake = signal.clone();
            let wakeups = wakeups.clone();
            let executing = executing.clone();
            restarts.started(run);
            WorkerBuilder::new(resume::worker_name(&name, <$job as Job>::QUEUE, run))
                .backend(
                    storage::<$job>(&pool, heartbeat, missed)
                        .poll_with_stream(wake::stream(signal.clone())),
                )
                .data(state.clone())
                .concurrency(n)
                .retry(policy.clone())
                .parallelize(tokio::spawn)
                .build(move |job: $job, state: Data<WorkerState>, task: TaskId, attempt: Attempt| {
                    let signal = retry_wake.clone();
                    let wakeups = wakeups.clone();
                    let executing = executing.clone();
                    async move {
                    let _executing = executing.enter(&task);
                    // Read once running: apalis counts the attempt when it starts it.
                    let attempt = attempt.current();
                    let span = job_span(&job, &task, attempt);
                    let started = std::time::Instant::now();
                    let work = $handler(job, state.clone()).instrument(span.clone());
                    let (result, due) = haat_domain::jobs::wakes::collect(work).await;
                    // Whatever the outcome: a handler may have committed before it failed.
                    wakeups.after_commit(&state.pool, &due).await;
                    let queue = <$job as Job>::QUEUE;
                    metrics::histogram!("haat_job_duration_seconds", "queue" => queue)
                        .record(started.elapsed().as_secs_f64());
                    let outcome = if result.is_ok() { "ok" } else { "error" };
                    metrics::counter!("haat_job_runs_total", "queue" => queue, "outcome" => outcome).increment(1);
                    if let Err(e) = &result {
                        after_failure::<$job>(&state, &signal, &task, attempt, e).instrument(span).await;
                    }
                    result
                    }
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
    let metrics = haat_platform::observability::install()?;
    let url = haat_platform::db::resolve_database_url(settings.database_url.as_deref()).await?;
    // One connection listens for new jobs for every queue of the process;
    // HAAT_DB_POOL counts the connections jobs work with.
    let pool = haat_platform::db::connect_waking_after_commit(&url, settings.db_pool.saturating_add(1)).await?;
    haat_platform::db::migrate(&pool).await?;
    let state = WorkerState {
        pool: pool.clone(),
        currency: settings.currency.clone(),
        sender: mailer::Sender::from_settings(&settings)?,
        return_window_days: settings.return_window_days,
        connectors: std::sync::Arc::new(haat_connectors::Connectors::new(
            settings.providers.clone(),
            &settings.public_url,
        )?),
        time_zone: settings.time_zone,
        hold_calendar: settings.hold_calendar.clone(),
        events_allow_loopback: settings.events_allow_loopback,
        events_timeout: settings.events_timeout,
        admin_email: settings.admin_email.clone(),
        period_close_mode: settings.period_close_mode,
        job_retention: chrono::Duration::hours(i64::from(settings.job_retention_hours)),
        retry: settings.retry,
    };
    // A unique name per process start: a restarted process must not inherit
    // the jobs its dead predecessor left running.
    let name = format!("haat-worker-{}", uuid::Uuid::now_v7());
    let mut monitor = Monitor::new().shutdown_timeout(SHUTDOWN_GRACE).should_restart(|_, _| true);
    let mut registry = Registry {
        pool: pool.clone(),
        state,
        name: name.clone(),
        retry: settings.retry,
        heartbeat: settings.worker_heartbeat,
        missed_heartbeats: settings.worker_missed_heartbeats,
        wakeups: wake::Wakeups::default(),
        executing: resume::Executing::default(),
    };
    // Every queue's signal first: a job wakes the queues it wrote to in
    // process, whichever of this process's queues those are.
    for (queue, _) in &queues {
        registry.wakeups.signal(queue.table_name());
    }
    for (queue, n) in queues {
        monitor = match queue {
            QueueKind::Webhooks => {
                register!(monitor, registry, ProcessWebhook, handlers::process_webhook, n)
            }
            QueueKind::Volume => {
                register!(monitor, registry, CreditVolume, handlers::credit_volume, n)
            }
            QueueKind::Commission => {
                register!(monitor, registry, CascadeCommission, handlers::cascade_commission, n)
            }
            QueueKind::Holds => {
                register!(monitor, registry, ReleaseHold, handlers::release_hold, n)
            }
            QueueKind::Confirmations => {
                register!(monitor, registry, ConfirmPayment, handlers::confirm_payment, n)
            }
            QueueKind::Reversals => {
                register!(monitor, registry, ReverseOrder, handlers::reverse_order, n)
            }
            QueueKind::Notifications => {
                register!(monitor, registry, Notify, handlers::notify, n)
            }
            QueueKind::Periods => {
                tokio::spawn(schedule::period_close(
                    pool.clone(),
                    settings.period_close_cron.clone(),
                    settings.time_zone,
                ));
                register!(monitor, registry, ClosePeriod, handlers::close_period, n)
            }
            QueueKind::Campaigns => {
                register!(monitor, registry, CampaignTask, handlers::campaign, n)
            }
            QueueKind::Loyalty => {
                tokio::spawn(schedule::points_expiry(pool.clone(), settings.points_expiry_cron.clone()));
                register!(monitor, registry, ExpirePoints, handlers::expire_points, n)
            }
            QueueKind::Expiries => {
                register!(monitor, registry, ExpireOrder, handlers::expire_order, n)
            }
            QueueKind::Shipments => {
                register!(monitor, registry, BookShipment, handlers::book_shipment, n)
            }
            QueueKind::ShipmentBatches => {
                register!(monitor, registry, BookShipments, handlers::book_shipments, n)
            }
            QueueKind::Simulations => {
                register!(monitor, registry, SimulatePlan, handlers::simulate_plan, n)
            }
            QueueKind::Events => {
                register!(monitor, registry, DeliverEvent, handlers::deliver_event, n)
            }
            QueueKind::Preparation => {
                tokio::spawn(schedule::preparation_check(pool.clone(), settings.preparation_check_cron.clone()));
                register!(monitor, registry, CheckPreparation, handlers::check_preparation, n)
            }
            QueueKind::Maintenance => {
                tokio::spawn(schedule::prune(pool.clone(), settings.prune_cron.clone()));
                register!(monitor, registry, PruneJobs, handlers::prune_jobs, n)
            }
        };
    }
    let due = registry.wakeups.clone().watch_due(pool.clone());
    let listener = registry.wakeups.listen(pool.clone());
    let http = http::serve(settings.worker_http_addr, pool.clone(), metrics).await?;
    println!("haat-worker {name} running; metrics on http://{http}/metrics");
    tracing::info!(worker = name, %http, "running");
    monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await
        .context("running workers")?;
    listener.abort();
    due.abort();
    Ok(())
}
