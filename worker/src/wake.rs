//! One LISTEN connection per worker process, shared by all its queues.
//!
//! Every job written to run now is announced on `apalis::job::insert`.
//! The queue library's own listener opens one connection per queue
//! and every one of them receives (and parses) every notification: eleven
//! connections per process, each woken for every job of every queue. Here
//! one connection receives them and wakes only the queue the job is for.
//! Wake-ups are coalesced: however many jobs arrive while a queue is busy
//! fetching, it fetches once more, not once per job.
//!
//! Jobs are written without a notification on our connections (see
//! `haat_domain::jobs::wakes`): the writer wakes the queues after its
//! commit, through this channel or, for a queue of its own process, in
//! process ([`Wakeups::after_commit`]).
//!
//! Jobs written for later (holds, retries, deadlines) notify nobody. Rather
//! than every queue polling (seventeen fetches every half second per
//! process, most of an idle worker's cost), the process asks in one
//! statement which of its queues have a job come due, wakes those, and
//! asks again when the next job is due, or after a second at most. A queue that fetched a full batch fetches again by itself: the
//! check only starts a drain, it does not pace it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;

/// The channel the job table's insert trigger notifies.
const CHANNEL: &str = "apalis::job::insert";
/// How long to wait before connecting again after the listener failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// The longest the process waits before asking again which of its queues
/// have jobs come due (sooner when a job is due sooner).
const DUE_CHECK: Duration = Duration::from_secs(1);
/// The shortest such wait: a job due "now" is fetchable a moment later.
const MIN_PAUSE: Duration = Duration::from_millis(5);

/// The part of a notification that names the queue.
#[derive(Deserialize)]
struct Inserted {
    job_type: String,
}

/// The queues of one process and the signal that wakes each.
#[derive(Clone, Default)]
pub struct Wakeups {
    queues: HashMap<&'static str, Arc<Notify>>,
}

impl Wakeups {
    /// Registers `queue` and returns its signal; [`stream`] turns it into
    /// what the queue's worker polls with (again for a rebuilt worker).
    pub fn signal(&mut self, queue: &'static str) -> Arc<Notify> {
        self.queues.entry(queue).or_default().clone()
    }

    /// Listens for as long as the process runs, reconnecting after any
    /// failure. Every queue is woken after a (re)connect: notifications
    /// sent while the connection was down are lost, the jobs are not.
    pub fn listen(self, pool: PgPool) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let Err(e) = self.serve(&pool).await;
                tracing::warn!(error = %e, "job notifications lost; listening again shortly");
                tokio::time::sleep(RECONNECT_AFTER).await;
            }
        })
    }

    /// Serves until the connection fails for good; returns why.
    async fn serve(&self, pool: &PgPool) -> Result<Infallible, sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        self.wake_all();
        loop {
            // `try_recv` says `None` when the connection dropped: the next
            // call reconnects, and whatever was sent meanwhile is lost.
            match listener.try_recv().await? {
                Some(n) => self.wake(n.payload()),
                None => self.wake_all(),
            }
        }
    }

    /// For as long as the process runs: wakes the queues whose first
    /// waiting job is due, then sleeps until the next one is (a retry
    /// scheduled 300 ms ahead runs 300 ms on), at most [`DUE_CHECK`]. A
    /// failed check is logged and tried again a check later.
    pub fn watch_due(self, pool: PgPool) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let queues: Vec<String> = self.queues.keys().map(|q| (*q).to_owned()).collect();
            loop {
                let pause = match first_jobs(&pool, &queues).await {
                    Ok(firsts) => self.wake_due(&firsts),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not check for jobs come due");
                        DUE_CHECK
                    }
                };
                tokio::time::sleep(pause).await;
            }
        })
    }

    /// Wakes the queues of `firsts` whose first job is due; returns how
    /// long until the next one is, at most [`DUE_CHECK`].
    fn wake_due(&self, firsts: &[(String, f64)]) -> Duration {
        let mut pause = DUE_CHECK;
        for (queue, wait) in firsts {
            if *wait < 0.0 {
                self.wake_queue(queue);
            } else {
                // The fetch takes jobs due strictly before its own moment.
                pause = pause.min(Duration::from_secs_f64(*wait).max(MIN_PAUSE));
            }
        }
        pause
    }

    /// Wakes `queues` once the work that wrote jobs to them has committed:
    /// this process's own queues in process, the others (served by other
    /// processes) through the database. A wake-up that cannot be sent is
    /// logged; the due check finds the job.
    pub async fn after_commit(&self, pool: &PgPool, queues: &[&'static str]) {
        let (here, elsewhere): (Vec<&str>, Vec<&str>) = queues.iter().partition(|q| self.queues.contains_key(*q));
        for queue in here {
            self.wake_queue(queue);
        }
        if let Err(e) = haat_domain::jobs::wakes::send(pool, &elsewhere).await {
            tracing::warn!(error = %e, queues = ?elsewhere, "could not wake the job queues");
        }
    }

    fn wake_queue(&self, queue: &str) {
        if let Some(signal) = self.queues.get(queue) {
            signal.notify_one();
        }
    }

    fn wake(&self, payload: &str) {
        let Ok(inserted) = serde_json::from_str::<Inserted>(payload) else {
            return;
        };
        self.wake_queue(&inserted.job_type);
    }

    fn wake_all(&self) {
        for signal in self.queues.values() {
            signal.notify_one();
        }
    }
}

/// Each of `queues` that has a waiting job, with the seconds until its
/// first job in fetch order (the queue's own partial index: priority,
/// then due time) is due (negative: due). One probe per queue, however
/// many jobs wait for later.
/// (The queue library's table is not in our checked schema: like its own
/// statements, this one is checked when it runs.)
async fn first_jobs(pool: &PgPool, queues: &[String]) -> Result<Vec<(String, f64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT q, extract(epoch FROM first - now())::float8 FROM (
           SELECT q, (SELECT j.run_at FROM apalis.jobs j
                       WHERE j.job_type = q AND (j.status = 'Pending' OR (j.status = 'Failed' AND j.attempts < j.max_attempts))
                       ORDER BY j.priority DESC, j.run_at ASC LIMIT 1) AS first
             FROM unnest($1::text[]) AS q) f
          WHERE first IS NOT NULL",
    )
    .bind(queues)
    .fetch_all(pool)
    .await
}

/// Wakes `signal` once `delay` has passed: a job this process has just
/// scheduled for then (a retry) runs then, not at the next due check.
pub fn wake_after(signal: Arc<Notify>, delay: Duration) {
    tokio::spawn(async move {
        // The fetch takes jobs due strictly before its own moment.
        tokio::time::sleep(delay + MIN_PAUSE).await;
        signal.notify_one();
    });
}

/// One item per wake-up of `signal`: a queue's worker fetches on each.
pub fn stream(signal: Arc<Notify>) -> impl Stream<Item = ()> + Unpin + Send + 'static {
    Box::pin(futures::stream::unfold(signal, |signal| async move {
        signal.notified().await;
        Some(((), signal))
    }))
}

#[cfg(test)]
mod tests {
    use futures::{FutureExt, StreamExt};

    use super::*;

    #[tokio::test]
    async fn many_notifications_for_a_busy_queue_wake_it_once_and_no_other_queue() {
        let mut w = Wakeups::default();
        let mut commission = stream(w.signal("haat.commission"));
        let mut volume = stream(w.signal("haat.volume"));
        for _ in 0..5 {
            w.wake(r#"{"job_type": "haat.commission", "id": "x"}"#);
        }
        w.wake("not json");
        w.wake(r#"{"job_type": "haat.elsewhere", "id": "y"}"#);
        assert_eq!(commission.next().now_or_never(), Some(Some(())));
        assert_eq!(commission.next().now_or_never(), None, "five notifications while busy are one wake-up");
        assert_eq!(volume.next().now_or_never(), None, "another queue's notification wakes nobody here");
        w.wake_all();
        assert_eq!(volume.next().now_or_never(), Some(Some(())));
        assert_eq!(commission.next().now_or_never(), Some(Some(())));
    }

    #[test]
    fn the_due_check_wakes_due_queues_and_asks_again_when_the_next_job_is_due() {
        let mut w = Wakeups::default();
        let mut holds = stream(w.signal("haat.holds"));
        let mut mail = stream(w.signal("haat.notifications"));
        let firsts = [("haat.holds".to_owned(), -0.5), ("haat.notifications".to_owned(), 0.3)];
        assert_eq!(w.wake_due(&firsts), Duration::from_millis(300));
        assert_eq!(holds.next().now_or_never(), Some(Some(())), "a due job wakes its queue");
        assert_eq!(mail.next().now_or_never(), None, "a job due later does not, yet");
        assert_eq!(w.wake_due(&[("haat.holds".to_owned(), 0.0)]), MIN_PAUSE, "due this instant: fetchable a moment on");
        assert_eq!(w.wake_due(&[("haat.holds".to_owned(), 3600.0)]), DUE_CHECK, "never longer than a check");
        assert_eq!(w.wake_due(&[]), DUE_CHECK);
    }
}
