//! When an event delivery is tried again, per the Standard Webhooks
//! schedule: immediately, then 5 seconds, 5 minutes, 30 minutes, 2 hours,
//! 5 hours, 10 hours and 10 hours after each failure (eight attempts in
//! all), each wait stretched by up to a tenth at random so that many
//! failing deliveries do not come back at once; a `Retry-After` the
//! endpoint asked for is waited at least.

use chrono::Duration;

/// Seconds to wait before each attempt (the first is immediate).
pub const WAITS: [i64; 8] = [0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A 2xx: delivered.
    Accepted,
    /// 410 Gone: the endpoint asks to be disabled.
    Gone,
    /// Anything else (another status, a timeout, no connection): try again;
    /// `retry_after` seconds when the endpoint said so (429, 503).
    Failed {
        /// The endpoint's `Retry-After`, in seconds.
        retry_after: Option<i64>,
    },
}

impl Answer {
    /// The answer of an HTTP status, with its `Retry-After` seconds.
    pub fn of_status(status: u16, retry_after: Option<i64>) -> Self {
        match status {
            200..=299 => Self::Accepted,
            410 => Self::Gone,
            _ => Self::Failed { retry_after },
        }
    }
}

/// The wait before attempt `attempts_made + 1`, after `attempts_made`
/// failed ones; `None` when all eight were made. `jitter` is a fraction in
/// [0, 1) drawn by the caller.
pub fn next_wait(attempts_made: u32, retry_after: Option<i64>, jitter: f64) -> Option<Duration> {
    let base = *WAITS.get(usize::try_from(attempts_made).ok()?)?;
    let stretched = base as f64 * (1.0 + jitter.clamp(0.0, 0.999) / 10.0);
    let wait = (stretched.round() as i64).max(retry_after.unwrap_or(0).clamp(0, 24 * 3600));
    Some(Duration::seconds(wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_the_specs_with_at_most_a_tenth_added() {
        let waits: Vec<i64> = (1..8).map(|n| next_wait(n, None, 0.0).map_or(-1, |d| d.num_seconds())).collect();
        assert_eq!(waits, vec![5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(next_wait(2, None, 0.5).map(|d| d.num_seconds()), Some(315));
        assert_eq!(next_wait(8, None, 0.0), None, "eight attempts in all");
    }

    #[test]
    fn retry_after_is_waited_at_least() {
        assert_eq!(next_wait(1, Some(60), 0.0).map(|d| d.num_seconds()), Some(60));
        assert_eq!(next_wait(3, Some(60), 0.0).map(|d| d.num_seconds()), Some(1800));
    }

    #[test]
    fn statuses_read_as_the_spec_says() {
        assert_eq!(Answer::of_status(204, None), Answer::Accepted);
        assert_eq!(Answer::of_status(410, None), Answer::Gone);
        assert_eq!(Answer::of_status(429, Some(7)), Answer::Failed { retry_after: Some(7) });
        assert_eq!(Answer::of_status(500, None), Answer::Failed { retry_after: None });
    }
}
