//! Recovery from a crashed database: what a live worker held when Postgres
//! crashed is run again as soon as the database is back, not after its
//! heartbeats are missed.

use haat_tests::own_cluster::OwnCluster;
use haat_tests::{TestApp, delivered_event, eventually, two_members_and_an_order, wallet_reaches};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_a_worker_held_when_postgres_crashed_is_run_again_once_postgres_is_back_without_waiting_for_heartbeats() {
    let cluster = OwnCluster::start("haat_recovery").await.expect("a cluster of the test's own");
    let pool = haat_platform::db::connect(&cluster.url, 2).await.expect("connect");
    // A hundred heartbeats missed before a worker counts as dead: the
    // heartbeat path would take over eight minutes, far past the test's
    // patience, so only the restarted worker's hand-back (or the live
    // worker's own retry) can resume the job. The heartbeats themselves stay
    // at their default: a completion the queue library receives while a
    // fetch is in flight is written at the queue's next wake-up or heartbeat
    // (docs/decisions.md, "Acknowledgements that wait for a heartbeat").
    let app = TestApp::spawn_on(
        cluster.url.clone(),
        pool,
        &[("HAAT_WORKER_HEARTBEAT_MS", "5000"), ("HAAT_WORKER_MISSED_HEARTBEATS", "100")],
    )
    .await;
    let (chain, order) = two_members_and_an_order(&app, "cod").await;
    let order_id: uuid::Uuid = order["id"].as_str().and_then(|s| s.parse().ok()).expect("order id");

    // The test holds the order's row, so the webhook's job blocks on it
    // mid-transaction: a job Running in a live worker when Postgres crashes.
    let mut holder = app.pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM orders WHERE id = $1 FOR UPDATE")
        .bind(order_id)
        .execute(&mut *holder)
        .await
        .expect("lock");
    let (status, _) = app.send_event("couriers", &delivered_event(&order)).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let probe = haat_platform::db::connect(&cluster.url, 1).await.expect("connect");
    eventually("the webhook's job waits on the order's row", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%FROM orders%'",
        )
        .fetch_one(&probe)
        .await
        .ok()?;
        let running: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.webhooks' AND status = 'Running' AND lock_by IS NOT NULL",
        )
        .fetch_one(&probe)
        .await
        .ok()?;
        (waiting == 1 && running == 1).then_some(())
    })
    .await;

    cluster.stop(false).await.expect("Postgres crashed (immediate stop)");
    drop(holder);
    cluster.start_again().await.expect("Postgres recovers and starts");

    // The level-1 commission of the delivered order: 300.00 BV × 10%.
    wallet_reaches(&app, &chain[0], "pending", "30.00").await;
    // The job cascades in its own transaction, so its acknowledgement
    // follows the commission's commit: it is awaited, within the test's
    // patience (the heartbeat path would take ten minutes).
    eventually("the job ran to the end, not re-enqueued by a heartbeat timeout", || async {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.webhooks' AND status = 'Done'
                AND last_result::text NOT ILIKE '%heartbeat%'",
        )
        .fetch_one(&app.pool)
        .await
        .ok()?;
        (done == 1).then_some(())
    })
    .await;
    // Which of the two ways back it took depends on whether apalis restarted
    // the queue's worker during the outage; neither is the heartbeat path.
    let log = app.worker_log(0);
    assert!(
        log.contains("jobs of the restarted worker handed back")
            || log.contains("it runs again in this worker shortly"),
        "{log}"
    );
    drop(app);
    cluster.remove().await;
}
