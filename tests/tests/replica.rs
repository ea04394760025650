//! Reads from a replica: a real hot standby (`pg_basebackup -R` from the
//! test's own primary) serves the api's reports; they equal the primary's
//! once replay has caught up, stay as they were while replay is paused, and
//! say how fresh they are.

use haat_domain::reports::Interval;
use haat_domain::reports::sales::{self, SalesGroup};
use haat_platform::embedded_pg::{self, ClusterSpec};
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

/// A primary and its standby of their own, stopped and removed when dropped
/// (also on a panic: never a cluster left running).
struct Pair {
    root: std::path::PathBuf,
}

impl Pair {
    fn specs(&self) -> [ClusterSpec; 2] {
        [self.root.join("standby"), self.root.join("primary")].map(|root| ClusterSpec { root, throwaway: true })
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for spec in self.specs() {
            embedded_pg::stop(&spec, true).ok();
        }
        std::fs::remove_dir_all(&self.root).ok();
    }
}

/// Waits until the standby has replayed everything the primary wrote so far.
async fn caught_up(primary: &PgPool, standby: &PgPool) {
    let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text").fetch_one(primary).await.expect("lsn");
    eventually("the standby replayed the primary's writes", || async {
        let done: bool = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
            .bind(&lsn)
            .fetch_one(standby)
            .await
            .ok()?;
        done.then_some(())
    })
    .await;
}

const SALES: &str = "/v1/admin/reports/sales?from=2026-01-01&to=2030-01-01&group_by=product";

/// The sales report as the api serves it (from the standby).
async fn served(app: &TestApp) -> Value {
    let (status, report) = app.admin("GET", SALES, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

/// The same report read directly on the primary.
async fn on_primary(primary: &PgPool) -> Value {
    let interval = Interval::parse(Some("2026-01-01"), Some("2030-01-01"), None, chrono_tz::UTC).expect("interval");
    let mut tx = primary.begin().await.expect("begin");
    let report = sales::sales(&mut tx, &interval, SalesGroup::Product, "BDT").await.expect("the report");
    serde_json::to_value(report).expect("json")
}

fn figures(report: &Value) -> (Value, Value) {
    (report["rows"].clone(), report["totals"].clone())
}

#[tokio::test]
async fn reports_served_from_a_hot_standby_equal_the_primarys_once_replay_has_caught_up() {
    let pair = Pair { root: std::env::temp_dir().join(format!("haat-replica-{}", uuid::Uuid::new_v4().simple())) };
    let [standby_spec, primary_spec] = pair.specs();
    let primary = tokio::task::spawn_blocking(move || embedded_pg::ensure_running(&primary_spec))
        .await
        .expect("join")
        .expect("the primary starts");
    haat_platform::db::create_database_if_missing(&primary.url("postgres"), "haat_replica").await.expect("database");
    let primary_pool = haat_platform::db::connect(&primary.url("haat_replica"), 4).await.expect("primary");
    haat_platform::db::migrate(&primary_pool).await.expect("migrate");
    let p = primary.clone();
    let standby = tokio::task::spawn_blocking(move || embedded_pg::start_standby(&p, &standby_spec))
        .await
        .expect("join")
        .expect("the standby starts");
    let standby_url = standby.url("haat_replica");
    let standby_pool = haat_platform::db::connect(&standby_url, 2).await.expect("standby");
    let in_recovery: bool =
        sqlx::query_scalar("SELECT pg_is_in_recovery()").fetch_one(&standby_pool).await.expect("recovery");
    assert!(in_recovery, "the second cluster is a standby");

    let mut app = TestApp::spawn_on(
        primary.url("haat_replica"),
        primary_pool.clone(),
        &[("HAAT_REPLICA_URL", standby_url.as_str())],
    )
    .await;
    app.create_plan(five_level_plan(7)).await;
    let kit = app.create_product("KIT-1", "1500.00", "1200.00", 10).await;
    let chain = app.create_chain(2).await;
    let first = app.place_order(&chain[1], &kit, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&first)).await;
    quiescent(&app.pool).await;
    caught_up(&primary_pool, &standby_pool).await;
    let before = served(&app).await;
    assert_eq!(before["totals"]["gross"], "1500.00", "{before}");
    assert_eq!(figures(&before), figures(&on_primary(&primary_pool).await));

    // Replay paused: the primary moves on, the served report does not.
    sqlx::query("SELECT pg_wal_replay_pause()").execute(&standby_pool).await.expect("pause replay");
    eventually("replay paused", || async {
        let state: String =
            sqlx::query_scalar("SELECT pg_get_wal_replay_pause_state()").fetch_one(&standby_pool).await.ok()?;
        (state == "paused").then_some(())
    })
    .await;
    let paused = served(&app).await;
    let second = app.place_order(&chain[1], &kit, 2, "cod").await;
    app.send_event("couriers", &delivered_event(&second)).await;
    quiescent(&app.pool).await;
    let primary_now = on_primary(&primary_pool).await;
    assert_eq!(primary_now["totals"]["gross"], "4500.00");
    let lagging = served(&app).await;
    assert_eq!(figures(&lagging), figures(&before), "served from the standby, whose replay is paused");
    assert_eq!(lagging["as_of"], paused["as_of"], "as_of is the last replayed commit, not the clock");

    sqlx::query("SELECT pg_wal_replay_resume()").execute(&standby_pool).await.expect("resume replay");
    caught_up(&primary_pool, &standby_pool).await;
    let after = served(&app).await;
    assert_eq!(figures(&after), figures(&primary_now));
    let at = |r: &Value| r["as_of"].as_str().and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
    assert!(at(&after) > at(&paused), "{:?} → {:?}", paused["as_of"], after["as_of"]);
    app.stop().await;
    drop(pair);
}
