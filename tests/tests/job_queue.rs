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

/// The next notification on the job channel, as JSON.
async fn next_wake(listener: &mut sqlx::postgres::PgListener) -> serde_json::Value {
    let n = tokio::time::timeout(std::time::Duration::from_secs(30), listener.recv())
        .await
        .expect("a notification within 30 s")
        .expect("the listener");
    serde_json::from_str(n.payload()).expect("a JSON payload")
}

#[tokio::test]
async fn a_job_written_by_work_that_wakes_after_commit_notifies_nobody_in_its_commit_and_its_wake_follows() {
    use haat_domain::jobs::{self, CreditVolume, wakes};
    let (url, pool) = fresh_database().await;
    let mut listener = sqlx::postgres::PgListener::connect(&url).await.expect("listener");
    listener.listen("apalis::job::insert").await.expect("listen");
    let quiet = haat_platform::db::connect_waking_after_commit(&url, 1).await.expect("pool");

    let order_id = uuid::Uuid::now_v7();
    let (written, queues) = wakes::collect(async {
        let mut tx = quiet.begin().await?;
        jobs::enqueue(&mut tx, &CreditVolume { order_id }, None).await?;
        let (hold, later) = jobs::ReleaseHold::at(order_id, chrono::Utc::now() + chrono::Duration::hours(1));
        jobs::enqueue(&mut tx, &hold, Some(later)).await?;
        tx.commit().await?;
        anyhow::Ok(())
    })
    .await;
    written.expect("the jobs are written");
    assert_eq!(queues, vec!["haat.volume"], "a job due now is noted; one for later is not");
    // Written after the quiet commit, on a connection that does not defer:
    // notified by the trigger as before. Notifications arrive in commit
    // order, so had the quiet commit notified, that would come first.
    job(&pool, "plain", "q", -1, 0, "Pending", 0).await;
    let first = next_wake(&mut listener).await;
    assert_eq!((first["job_type"].as_str(), first["id"].as_str()), (Some("q"), Some("plain")));
    wakes::send(&quiet, &queues).await.expect("the wake-up");
    assert_eq!(next_wake(&mut listener).await, serde_json::json!({"job_type": "haat.volume"}));
    let volume: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.volume'")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(volume, 1, "the job itself is there all along");
}
