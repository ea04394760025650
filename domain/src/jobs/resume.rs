//! Jobs a restarted worker hands back at once. When the database goes away,
//! apalis restarts each queue's worker inside the live process under a new
//! name; the jobs the previous run had fetched stay `Running` or `Queued`
//! under the old name until its heartbeats are missed (tens of seconds).
//! The process knows that run is gone, so it returns them to the queue as
//! soon as the database answers again — except those whose handler is
//! still executing in this process (a send to a mail server or a provider
//! that outlived the database): running them twice at once would repeat
//! their outside effect, so they are handed back once they end.

use sqlx::PgConnection;

use crate::error::DomainResult;

/// What one hand-back did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandBack {
    /// Jobs returned to the queue.
    pub handed: i64,
    /// Jobs of those runs still held because their handler still runs here.
    pub still_running: i64,
}

/// Returns to `queue` the jobs held by the worker names `previous` (this
/// process's earlier runs), except the tasks in `executing`. A job that had
/// started counts the attempt it lost, as apalis's own orphan re-enqueue
/// does; one only fetched has used none.
pub async fn hand_back(
    conn: &mut PgConnection,
    queue: &str,
    previous: &[String],
    executing: &[String],
) -> DomainResult<HandBack> {
    // apalis's own table: checked at run time (not part of our schema).
    let (handed, still_running): (i64, i64) = sqlx::query_as(
        "WITH held AS (
             SELECT id, status = 'Running' AS started, id = ANY($3) AS executing
               FROM apalis.jobs
              WHERE job_type = $1 AND lock_by = ANY($2) AND status IN ('Running', 'Queued')
                FOR UPDATE),
         handed AS (
             UPDATE apalis.jobs j
                SET status = 'Pending', lock_by = NULL, lock_at = NULL, done_at = NULL,
                    attempts = j.attempts + CASE WHEN held.started THEN 1 ELSE 0 END,
                    last_result = '{\"Err\": \"Handed back: the worker run holding it was restarted.\"}'
               FROM held
              WHERE j.id = held.id AND NOT held.executing
             RETURNING j.id)
         SELECT (SELECT count(*) FROM handed), (SELECT count(*) FROM held WHERE executing)",
    )
    .bind(queue)
    .bind(previous)
    .bind(executing)
    .fetch_one(conn)
    .await?;
    Ok(HandBack { handed, still_running })
}
