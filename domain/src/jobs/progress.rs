//! How far a long job has got. A long job does its work in one
//! transaction, which nobody else can see into until it commits; its
//! progress is therefore written on a pooled connection of its own, in
//! autocommit, so `GET /v1/admin/jobs/{id}` shows it while the job runs.

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::error::DomainResult;

/// The shortest time between two progress writes of one job: progress is
/// for a person watching, and must not cost the job a statement per item.
const EVERY: Duration = Duration::from_millis(250);

/// A job's progress as the admin reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct JobProgress {
    /// What is counted (`orders`, `steps`).
    pub unit: String,
    /// How many are done.
    pub done: i64,
    /// How many there are, where known.
    pub total: Option<i64>,
}

/// Where one job reports its progress (or nowhere, for the same work run
/// outside a job, e.g. by the bench).
pub struct Progress {
    target: Option<(PgPool, String)>,
    unit: &'static str,
    written: Option<Instant>,
}

impl Progress {
    /// Progress of the job with `key`, counted in `unit`.
    pub fn of_job(pool: &PgPool, key: String, unit: &'static str) -> Self {
        Self { target: Some((pool.clone(), key)), unit, written: None }
    }

    /// Progress nobody reads.
    pub fn unwatched() -> Self {
        Self { target: None, unit: "", written: None }
    }

    /// `done` of `total`, for counts that move often: written at once the
    /// first time and when done reaches the total, otherwise at most every
    /// 250 ms.
    pub async fn report(&mut self, done: i64, total: Option<i64>) -> DomainResult<()> {
        let due = self.written.is_none_or(|at| at.elapsed() >= EVERY) || Some(done) == total;
        if due { self.step(done, total).await } else { Ok(()) }
    }

    /// `done` of `total`, for a few coarse steps: always written.
    pub async fn step(&mut self, done: i64, total: Option<i64>) -> DomainResult<()> {
        let Some((pool, key)) = &self.target else { return Ok(()) };
        sqlx::query!(
            "INSERT INTO job_progress (job_key, unit, done, total) VALUES ($1, $2, $3, $4)
             ON CONFLICT (job_key) DO UPDATE
                SET unit = excluded.unit, done = excluded.done, total = excluded.total, updated_at = now()",
            key,
            self.unit,
            done,
            total
        )
        .execute(pool)
        .await?;
        self.written = Some(Instant::now());
        Ok(())
    }
}

/// The progress the job with `key` last reported, if it reports any.
pub async fn of(conn: &mut PgConnection, key: &str) -> DomainResult<Option<JobProgress>> {
    Ok(sqlx::query_as!(JobProgress, "SELECT unit, done, total FROM job_progress WHERE job_key = $1", key)
        .fetch_optional(conn)
        .await?)
}
