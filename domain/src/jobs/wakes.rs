//! Which queues to wake once a unit of work has committed.
//!
//! A job row written to run now must wake a worker of its queue, and the
//! wake-up must arrive after the commit (a worker woken earlier finds
//! nothing and sleeps on). Postgres's own way, a NOTIFY inside the writing
//! transaction, serialises every such commit through one lock held over
//! its WAL flush (see the migration `job_wakeups_after_commit`). So the
//! api's requests and the worker's jobs run inside [`collect`]:
//! [`super::enqueue`] notes each queue it wrote a due job for, and the
//! caller wakes those queues when the work is done, outside its
//! transaction — [`send`] through the database for other processes, or in
//! process for a queue the caller serves itself.
//!
//! A queue noted by work that then rolled back is woken for nothing: one
//! empty fetch. A job written outside [`collect`] on a connection that
//! defers its wake-ups waits for the workers' due check (a second at most).

use std::cell::RefCell;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

tokio::task_local! {
    static DUE: RefCell<BTreeSet<&'static str>>;
}

/// Runs `work`; returns its output and the queues it wrote jobs due now to
/// (each once).
pub async fn collect<F: Future>(work: F) -> (F::Output, Vec<&'static str>) {
    DUE.scope(RefCell::new(BTreeSet::new()), async {
        let output = work.await;
        let queues = DUE.with(|due| due.take().into_iter().collect());
        (output, queues)
    })
    .await
}

/// Notes that a job of `queue` was written to run at `run_at` (now when
/// `None`): a queue is woken for a job due by the time the work commits,
/// not for one written for later (the due check wakes it then).
pub(crate) fn note(queue: &'static str, run_at: Option<DateTime<Utc>>) {
    if run_at.is_none_or(|at| at <= Utc::now()) {
        // Outside `collect` there is nobody to tell: nothing to note.
        let _ = DUE.try_with(|due| due.borrow_mut().insert(queue));
    }
}

/// Wakes the workers of `queues` in every process, in one statement of its
/// own (never inside a transaction: its commit is what delivers it).
pub async fn send(pool: &PgPool, queues: &[&str]) -> sqlx::Result<()> {
    if queues.is_empty() {
        return Ok(());
    }
    // The function is ours, but not in the checked schema of every build
    // that calls this (it is created by the same migration as the trigger
    // it stands in for): checked when it runs.
    sqlx::query("SELECT wake_job_queues($1)").bind(queues).execute(pool).await?;
    Ok(())
}

/// Sends the wake-ups of many units of work in as few statements as the
/// database's pace allows: a wake-up asked for while the one before is
/// still being sent joins the next, which names every queue asked for
/// meanwhile. Idle, each is sent at once; under load (the api's requests
/// each asking for one) a few statements carry them all. Each is still
/// sent after the commit of the work that asked for it.
#[derive(Clone)]
pub struct Coalescing(tokio::sync::mpsc::UnboundedSender<Vec<&'static str>>);

impl Coalescing {
    /// Starts the sender (a task of the current runtime) for `pool`.
    pub fn start(pool: PgPool) -> Self {
        let (asks, mut asked) = tokio::sync::mpsc::unbounded_channel::<Vec<&'static str>>();
        tokio::spawn(async move {
            while let Some(first) = asked.recv().await {
                let mut queues: BTreeSet<&'static str> = first.into_iter().collect();
                while let Ok(more) = asked.try_recv() {
                    queues.extend(more);
                }
                let queues: Vec<&str> = queues.into_iter().collect();
                if let Err(e) = send(&pool, &queues).await {
                    // The jobs are written; the workers' due check finds them.
                    tracing::warn!(error = %e, ?queues, "could not wake the job queues");
                }
            }
        });
        Self(asks)
    }

    /// Asks for `queues` to be woken (work that wrote jobs to them has
    /// committed); returns at once.
    pub fn wake(&self, queues: Vec<&'static str>) {
        if !queues.is_empty() {
            // The sender ends only with the runtime: nothing left to wake.
            let _ = self.0.send(queues);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_notes_each_queue_it_wrote_a_due_job_for_once_and_nothing_for_later() {
        let later = Utc::now() + chrono::Duration::hours(1);
        let earlier = Utc::now() - chrono::Duration::seconds(1);
        let ((), queues) = collect(async {
            note("haat.volume", None);
            note("haat.notifications", Some(earlier));
            note("haat.volume", None);
            note("haat.holds", Some(later));
        })
        .await;
        assert_eq!(queues, vec!["haat.notifications", "haat.volume"]);
    }

    #[tokio::test]
    async fn a_note_outside_any_work_is_dropped_and_work_inside_work_keeps_its_own() {
        note("haat.volume", None);
        let (inner, outer) = collect(async {
            note("haat.webhooks", None);
            let ((), inner) = collect(async { note("haat.volume", None) }).await;
            inner
        })
        .await;
        assert_eq!(inner, vec!["haat.volume"]);
        assert_eq!(outer, vec!["haat.webhooks"]);
    }
}
