//! Jobs as operators see them: listed by status and queue, and a dead job
//! (failed with every attempt used) put back to run again. The job table
//! belongs to the queue library, so these statements are checked at run
//! time, not at compile time (its schema is not in our offline query data).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Row};

use crate::error::{DomainError, DomainResult};
use crate::jobs::Queue;

/// How the API names a job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for its time or a worker (including failed attempts that will be retried).
    Pending,
    /// Failed at least once and still has attempts left (a subset of `pending`).
    Failed,
    /// Taken by a worker.
    Running,
    /// Finished.
    Done,
    /// Failed with every attempt used (or killed): it will not run again by itself.
    Dead,
}

impl std::str::FromStr for Status {
    type Err = DomainError;
    fn from_str(s: &str) -> DomainResult<Self> {
        Ok(match s {
            "pending" => Self::Pending,
            "failed" => Self::Failed,
            "running" => Self::Running,
            "done" => Self::Done,
            "dead" => Self::Dead,
            _ => return Err(DomainError::invalid("status", "must be pending, failed, running, done or dead")),
        })
    }
}

/// The SQL condition of each status.
fn condition(status: Status) -> &'static str {
    match status {
        Status::Pending => "(status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts))",
        Status::Failed => "(status = 'Failed' AND attempts < max_attempts)",
        Status::Running => "status IN ('Queued', 'Running')",
        Status::Done => "status = 'Done'",
        Status::Dead => "((status = 'Failed' AND attempts >= max_attempts) OR status = 'Killed')",
    }
}

/// One job row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobView {
    /// The queue library's id.
    pub id: String,
    /// The queue's public name (`notifications`, …).
    pub queue: String,
    /// The business key (`notify:{id}`, …).
    pub key: Option<String>,
    /// The queue library's own status.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// When it runs (or ran).
    pub run_at: DateTime<Utc>,
    /// When it last finished an attempt.
    pub done_at: Option<DateTime<Utc>>,
    /// The last attempt's result (the error of a failed one).
    pub last_result: Option<serde_json::Value>,
    /// The payload (ids only).
    pub args: Option<serde_json::Value>,
    /// What the job did, for the jobs that record it (a period close, a
    /// points expiry, a plan simulation); null until it has run, and in lists.
    pub result: Option<serde_json::Value>,
    /// How far it has got (done / total where known), for the long jobs
    /// that report it while they run; null otherwise, and in lists.
    pub progress: Option<super::progress::JobProgress>,
}

/// Records what the job with `key` did, in the job's own transaction (so
/// it commits with the work; a retried job overwrites it).
pub async fn record_result(conn: &mut PgConnection, key: &str, result: &serde_json::Value) -> DomainResult<()> {
    sqlx::query!(
        "INSERT INTO job_results (job_key, result) VALUES ($1, $2)
         ON CONFLICT (job_key) DO UPDATE SET result = excluded.result, finished_at = now()",
        key,
        result
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The id of the job row with `key` in `queue` (just enqueued, or found).
pub async fn id_of(conn: &mut PgConnection, queue: &str, key: &str) -> DomainResult<String> {
    let row = sqlx::query("SELECT id FROM apalis.jobs WHERE job_type = $1 AND idempotency_key = $2")
        .bind(queue)
        .bind(key)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound("job"))?;
    Ok(row.try_get("id")?)
}

const COLUMNS: &str =
    "id, job_type, idempotency_key, status, attempts, max_attempts, run_at, done_at, last_result, job::bytea AS job";

fn view(row: &sqlx::postgres::PgRow) -> DomainResult<JobView> {
    let args: Option<Vec<u8>> = row.try_get("job")?;
    Ok(JobView {
        id: row.try_get("id")?,
        queue: {
            let table: String = row.try_get("job_type")?;
            Queue::of_table(&table).map_or(table, |q| q.name().to_owned())
        },
        key: row.try_get("idempotency_key")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        run_at: row.try_get("run_at")?,
        done_at: row.try_get("done_at")?,
        last_result: row.try_get("last_result")?,
        args: args.and_then(|a| serde_json::from_slice(&a).ok()),
        result: None,
        progress: None,
    })
}

/// How many jobs one queue has in one of the queue library's statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depth {
    /// The queue library's table name (`haat.notifications`).
    pub table: String,
    /// The queue's public name (`notifications`).
    pub queue: String,
    /// The library's status (`Pending`, `Running`, `Done`, `Failed`, `Killed`, …).
    pub status: String,
    /// How many.
    pub jobs: i64,
}

/// Every queue's jobs counted by status, by queue then status: what the
/// metrics gauges and the office's overview show.
pub async fn depths(conn: &mut PgConnection) -> DomainResult<Vec<Depth>> {
    // The job table is the queue library's: checked at run time.
    let rows = sqlx::query(
        "SELECT job_type, status, count(*) AS n FROM apalis.jobs GROUP BY job_type, status ORDER BY job_type, status",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let table: String = r.try_get("job_type")?;
            let queue = Queue::of_table(&table).map_or_else(|| table.clone(), |q| q.name().to_owned());
            Ok(Depth { queue, table, status: r.try_get("status")?, jobs: r.try_get("n")? })
        })
        .collect()
}

/// Jobs in `status`, optionally of one queue, newest first (by id, which
/// the queue library makes in time order), at most `limit`, before the
/// cursor `before` (the last id of the previous page).
pub async fn list(
    conn: &mut PgConnection,
    status: Status,
    queue: Option<Queue>,
    before: Option<&str>,
    limit: i64,
) -> DomainResult<Vec<JobView>> {
    // The queue library's ids are 26-character ULIDs.
    if before.is_some_and(|c| c.len() > 64) {
        return Err(DomainError::invalid("cursor", "is not a cursor we gave"));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM apalis.jobs WHERE {} AND ($1::text IS NULL OR job_type = $1)
            AND ($2::text IS NULL OR id < $2)
          ORDER BY id DESC LIMIT $3",
        condition(status)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(queue.map(Queue::table_name))
        .bind(before)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(view).collect()
}

/// The queue a client names: its public name (`notifications`), or the
/// job table's (`haat.notifications`) as earlier versions took; anything
/// else is refused naming `queue`.
pub fn parse_queue(name: &str) -> DomainResult<Queue> {
    Queue::parse(name)
        .or_else(|| Queue::of_table(name))
        .ok_or_else(|| DomainError::invalid("queue", format!("must be one of {}", Queue::names())))
}

/// One job by its id: its status, attempts and last result.
pub async fn get(conn: &mut PgConnection, id: &str) -> DomainResult<JobView> {
    let sql = format!("SELECT {COLUMNS} FROM apalis.jobs WHERE id = $1");
    let mut job = match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *conn).await? {
        Some(row) => view(&row)?,
        None => return Err(DomainError::NotFound("job")),
    };
    if let Some(key) = &job.key {
        job.result = sqlx::query_scalar!("SELECT result FROM job_results WHERE job_key = $1", key)
            .fetch_optional(&mut *conn)
            .await?;
        job.progress = super::progress::of(conn, key).await?;
    }
    Ok(job)
}

/// Puts a dead job back to run now with a fresh set of attempts. Anything
/// else is 409 (a job that will still run, or has run, is left alone).
pub async fn retry(conn: &mut PgConnection, id: &str) -> DomainResult<JobView> {
    let sql = format!(
        "UPDATE apalis.jobs SET status = 'Pending', attempts = 0, run_at = now(), lock_by = NULL, lock_at = NULL,
                done_at = NULL
          WHERE id = $1 AND {}
      RETURNING {COLUMNS}",
        condition(Status::Dead)
    );
    match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *conn).await? {
        Some(row) => {
            let job = view(&row)?;
            if let Some(queue) = Queue::parse(&job.queue) {
                super::wakes::note(queue.table_name(), None);
            }
            Ok(job)
        }
        None => {
            let exists = sqlx::query("SELECT 1 FROM apalis.jobs WHERE id = $1").bind(id).fetch_optional(conn).await?;
            match exists {
                Some(_) => Err(DomainError::conflict("status", "only a dead job can be retried")),
                None => Err(DomainError::NotFound("job")),
            }
        }
    }
}

/// Deletes finished jobs that finished before `before`, in batches, and
/// returns how many. Dead jobs stay for operators. A pruned job's business
/// key can be enqueued again; every job's effects are idempotent in the
/// domain (their own keys), so a second run changes nothing.
pub async fn prune(conn: &mut PgConnection, before: DateTime<Utc>) -> DomainResult<u64> {
    let mut pruned = 0;
    loop {
        let deleted = sqlx::query(
            "DELETE FROM apalis.jobs WHERE id IN (
                 SELECT id FROM apalis.jobs WHERE status = 'Done' AND done_at < $1 LIMIT 10000)",
        )
        .bind(before)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        pruned += deleted;
        if deleted < 10_000 {
            break;
        }
    }
    // What those jobs reported goes with them.
    sqlx::query!("DELETE FROM job_results WHERE finished_at < $1", before).execute(&mut *conn).await?;
    sqlx::query!("DELETE FROM job_progress WHERE updated_at < $1", before).execute(&mut *conn).await?;
    // Sign-in attempts only matter for minutes.
    sqlx::query!("DELETE FROM sign_in_attempts WHERE at < $1", before).execute(conn).await?;
    Ok(pruned)
}
