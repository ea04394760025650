//! When a failed job runs again. Short delays are waited in the worker
//! (apalis's retry layer, holding the job's slot); a delay longer than
//! `in_process` is durable instead: the job goes back to the table with a
//! later `run_at`, so a long backoff holds no slot and survives restarts.

use std::time::Duration;

use sqlx::PgConnection;

use crate::error::DomainResult;

/// The backoff of every job kind: the first delay, doubled after each
/// further failure (with up to 50% jitter), never longer than `longest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The delay before the second attempt.
    pub first: Duration,
    /// Delays up to this long are waited in process.
    pub in_process: Duration,
    /// The longest delay between two attempts.
    pub longest: Duration,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// The worker waits and runs it again (apalis's retry layer).
    InProcess,
    /// The job row gets `run_at = now + delay`; any worker picks it up then.
    Scheduled(Duration),
    /// Every attempt is used: the job is dead until an operator retries it.
    Dead,
}

/// Jitter as a fraction of the delay, like the in-process backoff's.
const JITTER: f64 = 0.5;

impl RetrySchedule {
    /// How many of `retries` are waited in process: those whose unjittered
    /// delay is at most `in_process`.
    #[must_use]
    pub fn in_process_retries(&self, retries: usize) -> usize {
        (1..=retries).take_while(|n| self.base_delay(*n) <= self.in_process).count()
    }

    /// The unjittered delay after failed attempt `attempt` (1-based).
    #[must_use]
    pub fn base_delay(&self, attempt: usize) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(u32::MAX).min(40);
        self.first.saturating_mul(2u32.saturating_pow(doublings)).min(self.longest)
    }

    /// What follows failed attempt `attempt` (1-based) of a job allowed
    /// `retries` retries; `jitter` in [0, 1) spreads scheduled delays so
    /// jobs that failed together do not all come back together.
    #[must_use]
    pub fn after_failure(&self, attempt: usize, retries: usize, jitter: f64) -> NextAttempt {
        if attempt > retries {
            NextAttempt::Dead
        } else if attempt <= self.in_process_retries(retries) {
            NextAttempt::InProcess
        } else {
            let base = self.base_delay(attempt);
            let spread = base.mul_f64(JITTER * jitter.clamp(0.0, 1.0));
            NextAttempt::Scheduled((base + spread).min(self.longest))
        }
    }
}

/// Moves a running job's next attempt `delay` into the future. Called by
/// the worker before it reports the failure, while the row is still locked
/// by it and `Running`, so no other worker can fetch it meanwhile.
pub async fn defer(conn: &mut PgConnection, task_id: &str, delay: Duration) -> DomainResult<()> {
    // apalis's own table: checked at run time (not part of our schema).
    sqlx::query("UPDATE apalis.jobs SET run_at = now() + make_interval(secs => $2) WHERE id = $1")
        .bind(task_id)
        .bind(delay.as_secs_f64())
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn schedule(first: u64, in_process: u64, longest: u64) -> RetrySchedule {
        RetrySchedule {
            first: Duration::from_millis(first),
            in_process: Duration::from_millis(in_process),
            longest: Duration::from_millis(longest),
        }
    }

    #[test]
    fn short_delays_are_waited_in_process_and_longer_ones_are_scheduled_until_the_job_is_dead() {
        let s = schedule(200, 30_000, 3_600_000);
        // 200, 400, …, 25 600 ms are waited; 51 200 ms is not.
        assert_eq!(s.in_process_retries(20), 8);
        assert_eq!(s.after_failure(8, 20, 0.0), NextAttempt::InProcess);
        assert_eq!(s.after_failure(9, 20, 0.0), NextAttempt::Scheduled(Duration::from_millis(51_200)));
        assert_eq!(s.after_failure(20, 20, 0.0), NextAttempt::Scheduled(Duration::from_secs(3600)));
        assert_eq!(s.after_failure(21, 20, 0.0), NextAttempt::Dead);
        assert_eq!(s.in_process_retries(3), 3);
    }

    #[test]
    fn a_first_delay_longer_than_the_in_process_bound_schedules_every_retry() {
        let s = schedule(1000, 500, 10_000);
        assert_eq!(s.in_process_retries(5), 0);
        assert_eq!(s.after_failure(1, 5, 0.0), NextAttempt::Scheduled(Duration::from_secs(1)));
    }

    proptest! {
        #[test]
        fn scheduled_delays_never_shrink_from_one_attempt_to_the_next_and_never_pass_the_longest(
            first in 1u64..5_000, in_process in 1u64..60_000, extra in 0u64..3_600_000, retries in 1usize..40,
        ) {
            let s = schedule(first, in_process, first + extra);
            let mut previous = Duration::ZERO;
            for attempt in 1..=retries {
                prop_assert!(s.base_delay(attempt) >= previous);
                previous = s.base_delay(attempt);
                match s.after_failure(attempt, retries, 0.999) {
                    NextAttempt::Scheduled(d) => {
                        prop_assert!(d <= s.longest);
                        prop_assert!(s.base_delay(attempt) > s.in_process);
                    }
                    NextAttempt::InProcess => prop_assert!(s.base_delay(attempt) <= s.in_process),
                    NextAttempt::Dead => prop_assert!(false, "attempt {} of {} is not the last", attempt, retries + 1),
                }
            }
            prop_assert_eq!(s.after_failure(retries + 1, retries, 0.0), NextAttempt::Dead);
        }
    }
}
