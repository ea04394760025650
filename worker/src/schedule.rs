//! The period-close schedule. Every worker process that serves the
//! `periods` queue runs it; each tick enqueues one `close_period` job keyed
//! by the tick's time, so however many processes tick, one job per tick is
//! queued (the job table's idempotency key), and the close itself runs once
//! per period. (apalis-cron's `pipe_to` would run each tick once per
//! process, and its stream stops for good after a missed tick.)

use chrono::Utc;
use chrono_tz::Tz;
use haat_domain::jobs::{self, ClosePeriod};
use haat_domain::periods;
use sqlx::PgPool;

/// Ticks forever on `schedule` (UTC), enqueueing the close of the period
/// before each tick's month in `tz`. A failed enqueue is logged and the
/// next tick tries again (the close is idempotent).
pub async fn period_close(pool: PgPool, schedule: cron::Schedule, tz: Tz) {
    loop {
        let Some(next) = schedule.upcoming(Utc).next() else {
            tracing::warn!("the period-close schedule has no next tick");
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        let job = ClosePeriod { period: periods::previous_period(next, tz), tick: next.timestamp_millis() };
        if let Err(e) = enqueue(&pool, &job).await {
            tracing::warn!(period = job.period, error = %e, "could not enqueue the period close");
        }
    }
}

async fn enqueue(pool: &PgPool, job: &ClosePeriod) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    jobs::enqueue(&mut tx, job, None).await?;
    tx.commit().await?;
    Ok(())
}
