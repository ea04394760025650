//! The job queue's fetch, which haat's migrations replace with a PL/pgSQL
//! version of apalis's own (planned once per connection instead of on
//! every call): it must pick exactly what apalis's would.

use haat_tests::*;
use sqlx::{Connection, PgConnection, PgPool};

/// A job row of `queue`, due `run_in` seconds from now.
async fn job(pool: &PgPool, id: &str, queue: &str, run_in: i32, priority: i32, status: &str, attempts: i32) {
    sqlx::query(
        "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority)
         VALUES ($1, $2, '\\x7b7d', $3, $4, 3, now() + make_interval(secs => $5), $6)",
    )
    .bind(id)
    .bind(queue)
    .bind(status)
    .bind(attempts)
    .bind(f64::from(run_in))
    .bind(priority)
    .execute(pool)
    .await
    .expect("job row");
}

/// The ids `worker` takes from `queue`, sorted (the update returns its rows in no set order).
async fn fetch(conn: &mut PgConnection, worker: &str, queue: &str, n: i32) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM apalis.get_jobs($1, $2, $3) ORDER BY id")
        .bind(worker)
        .bind(queue)
        .bind(n)
        .fetch_all(conn)
        .await
        .expect("fetch")
}

#[tokio::test]
async fn a_fetch_takes_due_jobs_of_its_queue_by_priority_then_age_and_skips_future_foreign_spent_and_locked_ones() {
    let (url, pool) = fresh_database().await;
    for w in ["w1", "w2"] {
        sqlx::query("INSERT INTO apalis.workers (id, worker_type, storage_name) VALUES ($1, 'q', 'test')")
            .bind(w)
            .execute(&pool)
            .await
            .expect("worker row");
    }
    job(&pool, "old", "q", -3, 0, "Pending", 0).await;
    job(&pool, "urgent", "q", -2, 5, "Pending", 0).await;
    job(&pool, "recent", "q", -1, 0, "Pending", 0).await;
    job(&pool, "retry", "q", -4, 0, "Failed", 1).await;
    job(&pool, "spent", "q", -6, 0, "Failed", 3).await;
    job(&pool, "future", "q", 3600, 9, "Pending", 0).await;
    job(&pool, "foreign", "other", -9, 9, "Pending", 0).await;
    job(&pool, "held", "q", -5, 0, "Pending", 0).await;
    let mut holder = PgConnection::connect(&url).await.expect("second connection");
    let mut hold = holder.begin().await.expect("begin");
    sqlx::query("SELECT id FROM apalis.jobs WHERE id = 'held' FOR UPDATE").execute(&mut *hold).await.expect("lock");

    let mut conn = pool.acquire().await.expect("connection");
    // Several calls on one connection: the cached plan must keep the
    // parameters of each call (PL/pgSQL switches to a generic plan after five).
    for _ in 0..6 {
        assert!(fetch(&mut conn, "w1", "nothing-here", 5).await.is_empty());
    }
    let first = fetch(&mut conn, "w1", "q", 3).await;
    assert_eq!(first, vec!["old", "retry", "urgent"], "priority first, then the oldest due; locked rows skipped");
    let second = fetch(&mut conn, "w2", "q", 10).await;
    assert_eq!(second, vec!["recent"], "what is left and due; the spent, future, foreign and locked stay");
    hold.rollback().await.expect("release");
    assert_eq!(fetch(&mut conn, "w2", "q", 10).await, vec!["held"]);

    let taken: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, status, lock_by FROM apalis.jobs WHERE lock_by IS NOT NULL ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("taken rows");
    let expected = [("held", "w2"), ("old", "w1"), ("recent", "w2"), ("retry", "w1"), ("urgent", "w1")];
    assert_eq!(taken.len(), expected.len());
    for ((id, status, by), (want_id, want_by)) in taken.iter().zip(expected) {
        assert_eq!((id.as_str(), status.as_str(), by.as_str()), (want_id, "Queued", want_by));
    }
    let language: String = sqlx::query_scalar(
        "SELECT l.lanname::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = 'apalis.get_jobs'::regproc",
    )
    .fetch_one(&pool)
    .await
    .expect("the fetch function");
    assert_eq!(language, "plpgsql", "haat's version of the fetch is the one installed");
}
