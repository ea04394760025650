//! Holds that end at any instant, not only on whole days: every held
//! commission is released once its hold ends, whatever fraction of a
//! second that is, and held money that nothing would release is an audit
//! violation.

use chrono::{DateTime, Duration, DurationRound, Utc};
use haat_domain::jobs::{Job, ReleaseHold};
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

fn id_of(v: &Value) -> Uuid {
    v["id"].as_str().and_then(|s| s.parse().ok()).expect("an id")
}

/// A two-level chain above a buyer, and `n` cash-on-delivery orders of one
/// 450.00 tea (BV 300) delivered, their commissions held for 7 days:
/// 30.00 to the first level and 15.00 to the second, per order.
async fn delivered_orders(app: &TestApp, n: usize) -> (Vec<Value>, Vec<Value>) {
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(3).await;
    let mut orders = Vec::new();
    for _ in 0..n {
        let order = app.place_order(&chain[2], &tea, 1, "cod").await;
        assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);
        orders.push(order);
    }
    let held = format!("{}.00", 30 * n);
    wallet_reaches(app, &chain[1], "pending", &held).await;
    wallet_reaches(app, &chain[0], "pending", &format!("{}.00", 15 * n)).await;
    quiescent(&app.pool).await;
    (chain, orders)
}

async fn pending_commissions(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM commissions WHERE status = 'pending'")
        .fetch_one(&app.pool)
        .await
        .expect("count pending")
}

/// The whole second `seconds` from now.
fn whole_second_in(seconds: i64) -> DateTime<Utc> {
    (Utc::now() + Duration::seconds(seconds)).duration_trunc(Duration::seconds(1)).expect("truncate")
}

#[tokio::test]
async fn holds_ending_seconds_from_now_at_any_fraction_of_a_second_are_all_released() {
    let app = TestApp::spawn().await;
    let (chain, orders) = delivered_orders(&app, 8).await;
    // Each hold ends at another fraction of the same second, the last
    // within a millisecond of the next whole second.
    let second = whole_second_in(3);
    for (i, order) in orders.iter().enumerate() {
        let fraction = if i == 7 { 999 } else { 125 * i as i64 + 1 };
        move_hold_to_end_at(&app, id_of(order), second + Duration::milliseconds(fraction)).await;
    }
    wallet_reaches(&app, &chain[1], "available", "240.00").await;
    wallet_reaches(&app, &chain[0], "available", "120.00").await;
    eventually("no commission is held", || async { (pending_commissions(&app).await == 0).then_some(()) }).await;
    for member in &chain[..2] {
        assert_eq!(app.wallet(member).await["pending"], "0.00");
    }
    // No release ran before the hold it released had ended.
    let early: i64 = sqlx::query_scalar("SELECT count(*) FROM commissions WHERE released_at < release_at")
        .fetch_one(&app.pool)
        .await
        .expect("count early releases");
    assert_eq!(early, 0);
    quiescent(&app.pool).await;
    assert_eq!(failed_audit_checks(&app).await, Vec::<(String, Vec<String>)>::new());
}

#[tokio::test]
async fn a_release_job_picked_up_within_the_second_its_hold_ends_but_before_it_runs_again_and_releases() {
    let app = TestApp::spawn().await;
    let (chain, orders) = delivered_orders(&app, 1).await;
    let order_id = id_of(&orders[0]);
    let ends = whole_second_in(2) + Duration::milliseconds(700);
    move_hold_to_end_at(&app, order_id, ends).await;
    // The job the system makes for a hold ending then, handed out by the
    // queue at its second and run by a worker whose clock reads 300 ms
    // before the hold's end; that run is all the queue knows of it, so the
    // job is done (its key stays taken).
    let (job, run_at) = ReleaseHold::at(order_id, ends);
    assert_eq!(run_at, ends.duration_trunc(Duration::seconds(1)).expect("truncate") + Duration::seconds(1));
    let mut tx = app.pool.begin().await.expect("begin");
    sqlx::query("DELETE FROM apalis.jobs WHERE job_type = 'haat.holds'").execute(&mut *tx).await.expect("drop");
    haat_domain::jobs::enqueue(&mut tx, &job, Some(run_at)).await.expect("enqueue the hold's job");
    sqlx::query("UPDATE apalis.jobs SET status = 'Done', done_at = now() WHERE idempotency_key = $1")
        .bind(job.key())
        .execute(&mut *tx)
        .await
        .expect("the queue hands the job out");
    haat_domain::compensation::commissions::release_holds(
        &mut tx,
        job,
        ends - Duration::milliseconds(300),
        "BDT",
        &Default::default(),
    )
    .await
    .expect("the early run succeeds");
    tx.commit().await.expect("commit");
    // It released nothing and scheduled itself again under a key of its own.
    assert_eq!(app.wallet(&chain[1]).await["available"], "0.00");
    let rerun: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT idempotency_key, run_at FROM apalis.jobs WHERE job_type = 'haat.holds' AND idempotency_key = $1",
    )
    .bind(format!("release_hold:{order_id}:{}:rerun1", job.release_at))
    .fetch_all(&app.pool)
    .await
    .expect("read the rerun");
    assert_eq!(rerun.len(), 1, "the rerun job exists");
    assert!(rerun[0].1 >= run_at, "the rerun is no sooner than the job's own second: {rerun:?}");
    wallet_reaches(&app, &chain[1], "available", "30.00").await;
    wallet_reaches(&app, &chain[0], "available", "15.00").await;
    quiescent(&app.pool).await;
    assert_eq!(failed_audit_checks(&app).await, Vec::<(String, Vec<String>)>::new());
}

#[tokio::test]
async fn held_money_past_its_release_with_no_job_to_release_it_fails_the_audit() {
    let app = TestApp::spawn().await;
    let (_, orders) = delivered_orders(&app, 1).await;
    let order_id = id_of(&orders[0]);
    assert_eq!(failed_audit_checks(&app).await, Vec::<(String, Vec<String>)>::new(), "held but not yet due");
    // Strand it as the old release job did: the hold ended an hour ago and
    // no job is left that would release it.
    sqlx::query("UPDATE commissions SET release_at = now() - interval '1 hour' WHERE order_id = $1")
        .bind(order_id)
        .execute(&app.pool)
        .await
        .expect("end the hold");
    sqlx::query("DELETE FROM apalis.jobs WHERE job_type = 'haat.holds'").execute(&app.pool).await.expect("drop jobs");
    let failed = failed_audit_checks(&app).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let (name, violations) = &failed[0];
    assert_eq!(name, "held_money_has_a_due_release");
    assert_eq!(violations.len(), 2, "both held commissions: {violations:?}");
    assert!(violations.iter().all(|v| v.contains("no job will release it")), "{violations:?}");
    let out = app.worker_command(&["audit"]).await;
    assert_eq!(out.status.code(), Some(1), "haat-worker audit fails on stranded money");
}
