//! A restarted queue worker takes back at once what its previous runs held
//! (the rule: `haat_domain::jobs::resume`), instead of waiting for their
//! heartbeats to be missed.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apalis::prelude::TaskId;
use haat_domain::jobs::resume::hand_back;
use sqlx::PgPool;
use tokio::sync::Notify;

/// How often the hand-back is tried while the database is still away, or
/// while a job of a previous run is still executing here.
const TRY_EVERY: Duration = Duration::from_millis(250);

/// The name of `queue`'s worker in its `run`th start inside process
/// `process`: the name its fetched jobs are locked under.
#[must_use]
pub fn worker_name(process: &str, queue: &str, run: usize) -> String {
    format!("{process}-{queue}-{run}")
}

/// The tasks whose handler is executing in this process right now.
#[derive(Clone, Default)]
pub struct Executing(Arc<Mutex<HashSet<String>>>);

/// Marks one task executing until dropped (also on a panic).
pub struct Entered {
    set: Executing,
    task: String,
}

impl Executing {
    /// Marks `task` executing for as long as the returned guard lives.
    pub fn enter(&self, task: &TaskId) -> Entered {
        let task = task.to_string();
        if let Ok(mut set) = self.0.lock() {
            set.insert(task.clone());
        }
        Entered { set: self.clone(), task }
    }

    fn snapshot(&self) -> Vec<String> {
        self.0.lock().map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.0.lock() {
            set.remove(&self.task);
        }
    }
}

/// One queue's restarts in this process.
#[derive(Clone)]
pub struct Restarts {
    pool: PgPool,
    process: String,
    queue: &'static str,
    latest: Arc<AtomicUsize>,
    executing: Executing,
    signal: Arc<Notify>,
}

impl Restarts {
    /// Tracks `queue` of `process`; `signal` wakes its worker.
    pub fn new(pool: PgPool, process: &str, queue: &'static str, executing: Executing, signal: Arc<Notify>) -> Self {
        Self { pool, process: process.to_owned(), queue, latest: Arc::default(), executing, signal }
    }

    /// Called as the worker starts its `run`th time: after a restart, hands
    /// back what runs `0..run` held, trying until the database answers and
    /// none of their jobs is still executing here. A later restart's task
    /// takes over from this one.
    pub fn started(&self, run: usize) {
        self.latest.store(run, Ordering::SeqCst);
        if run == 0 {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move { this.hand_back_runs_before(run).await });
    }

    async fn hand_back_runs_before(self, run: usize) {
        let previous: Vec<String> = (0..run).map(|r| worker_name(&self.process, self.queue, r)).collect();
        while self.latest.load(Ordering::SeqCst) == run {
            let attempt = async {
                let mut conn = self.pool.acquire().await?;
                hand_back(&mut conn, self.queue, &previous, &self.executing.snapshot()).await
            };
            match attempt.await {
                Ok(done) => {
                    if done.handed > 0 {
                        tracing::info!(
                            queue = self.queue,
                            handed = done.handed,
                            "jobs of the restarted worker handed back"
                        );
                        self.signal.notify_one();
                    }
                    if done.still_running == 0 {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(queue = self.queue, error = %e, "handing back jobs after a restart: trying again")
                }
            }
            tokio::time::sleep(TRY_EVERY).await;
        }
    }
}
