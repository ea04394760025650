//! Cron schedules that enqueue jobs: the period close, the points expiry,
//! the check of sellers' preparation times and the prune of old jobs. Every worker process that serves the job's queue runs its
//! schedule; each tick enqueues one job keyed by the tick's time, so
//! however many processes tick, one job per tick is queued (the job
//! table's idempotency key), and the jobs themselves are idempotent.
//! (apalis-cron's `pipe_to` would run each tick once per process, and its
//! stream stops for good after a missed tick.)

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use haat_domain::compensation::periods;
use haat_domain::jobs::{self, CheckPreparation, ClosePeriod, ExpirePoints, Job, PruneJobs};
use sqlx::PgPool;

/// Ticks forever on `schedule` (UTC), enqueueing the close of the period
/// before each tick's month in `tz`.
pub async fn period_close(pool: PgPool, schedule: cron::Schedule, tz: Tz) {
    tick(pool, schedule, move |at| ClosePeriod {
        period: periods::previous_period(at, tz),
        tick: at.timestamp_millis(),
    })
    .await;
}

/// Ticks forever on `schedule` (UTC), enqueueing the points expiry.
pub async fn points_expiry(pool: PgPool, schedule: cron::Schedule) {
    tick(pool, schedule, |at| ExpirePoints { tick: at.timestamp_millis() }).await;
}

/// Ticks forever on `schedule` (UTC), enqueueing the check for seller
/// lines not prepared in time.
pub async fn preparation_check(pool: PgPool, schedule: cron::Schedule) {
    tick(pool, schedule, |at| CheckPreparation { tick: at.timestamp_millis() }).await;
}

/// Ticks forever on `schedule` (UTC), enqueueing the prune of old jobs.
pub async fn prune(pool: PgPool, schedule: cron::Schedule) {
    tick(pool, schedule, |at| PruneJobs { tick: at.timestamp_millis() }).await;
}

/// Enqueues `job(tick)` at each tick of `schedule`. A failed enqueue is
/// logged and the next tick tries again.
async fn tick<J: Job>(pool: PgPool, schedule: cron::Schedule, job: impl Fn(DateTime<Utc>) -> J) {
    loop {
        let Some(next) = schedule.upcoming(Utc).next() else {
            tracing::warn!(queue = J::QUEUE, "the schedule has no next tick");
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        let job = job(next);
        if let Err(e) = enqueue(&pool, &job).await {
            tracing::warn!(job = job.key(), error = %e, "could not enqueue a scheduled job");
        }
    }
}

async fn enqueue<J: Job>(pool: &PgPool, job: &J) -> anyhow::Result<()> {
    let (written, queues) = jobs::wakes::collect(async {
        let mut tx = pool.begin().await?;
        jobs::enqueue(&mut tx, job, None).await?;
        tx.commit().await?;
        anyhow::Ok(())
    })
    .await;
    written?;
    jobs::wakes::send(pool, &queues).await?;
    Ok(())
}
