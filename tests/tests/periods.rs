//! The monthly period close end to end: group volume, ranks and team
//! bonuses posted once, whether an admin asks twice or three worker
//! processes tick on the same schedule.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::Value;

/// (member, bonus, amount) of every bonus paid, and the count of bonus
/// ledger entries.
async fn bonuses_paid(app: &TestApp) -> (Vec<(String, String, String)>, i64) {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT member_id::text, bonus, amount::text FROM period_bonuses ORDER BY member_id, bonus")
            .fetch_all(&app.pool)
            .await
            .expect("bonuses");
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM journal_entries WHERE kind = 'bonus'")
        .fetch_one(&app.pool)
        .await
        .expect("bonus entries");
    (rows, entries)
}

/// The bonuses of the team, except those of the `suspended` members.
fn expected(chain: &[Value], suspended: &[usize]) -> Vec<(String, String, String)> {
    // Group PV: root 20×2 + 3×20 = 100 (gold), then 60, 40 (silver), 20.
    let id = |i: usize| chain[i]["id"].as_str().unwrap_or_default().to_owned();
    let mut rows: Vec<_> =
        [(0, "gold_share", "15.00"), (0, "team", "100.00"), (1, "team", "100.00"), (2, "team", "100.00")]
            .into_iter()
            .filter(|(member, _, _)| !suspended.contains(member))
            .map(|(member, bonus, amount)| (id(member), bonus.to_owned(), amount.to_owned()))
            .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn a_period_closed_twice_pays_its_team_bonuses_and_ranks_once_and_nothing_to_a_suspended_member() {
    let app = TestApp::spawn().await;
    let (chain, period) = last_months_team(&app).await;
    let suspend = format!("/v1/admin/members/{}/suspend", chain[2]["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &suspend, None).await.0, StatusCode::OK);
    let close = format!("/v1/admin/periods/{period}/close");
    let (status, _) = app.admin("POST", &close, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let closed = eventually("the period is closed", || async {
        let (status, p) = app.admin("GET", &format!("/v1/admin/periods/{period}"), None).await;
        (status == StatusCode::OK).then_some(p)
    })
    .await;
    // The suspended member's volume still counts for the root's gold rank
    // and share; its own team bonus is not paid.
    assert_eq!((closed["bonuses"].as_i64(), closed["bonus_total"].as_str()), (Some(3), Some("215.00")));
    // Asked again (a new job): nothing more is paid.
    let (status, _) = app.admin("POST", &close, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    quiescent(&app.pool).await;
    let done: i64 =
        sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.periods' AND status = 'Done'")
            .fetch_one(&app.pool)
            .await
            .expect("close jobs");
    assert_eq!(done, 2, "the close ran twice");
    assert_eq!(bonuses_paid(&app).await, (expected(&chain, &[2]), 3));
    assert_eq!(app.wallet(&chain[0]).await["available"], "115.00");
    assert_eq!(app.wallet(&chain[2]).await["available"], "0.00");

    let ranks: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT member_id::text, paid_as_rank, group_pv::text FROM member_periods WHERE period = $1 ORDER BY member_periods.group_pv DESC",
    )
    .bind(&period)
    .fetch_all(&app.pool)
    .await
    .expect("member figures");
    let names: Vec<_> = ranks.iter().map(|(_, r, pv)| (r.clone(), pv.clone())).collect();
    assert_eq!(
        names,
        [
            (Some("gold".into()), "100.00".into()),
            (Some("silver".into()), "60.00".into()),
            (Some("silver".into()), "40.00".into()),
            (None, "20.00".into())
        ]
    );
    assert_eq!(ledger_totals(&app.pool).await, (rust_decimal::Decimal::ZERO, 0));
    let (_, audit) = app.admin("GET", "/v1/admin/audit", None).await;
    assert_eq!(audit["ok"], true, "audit: {audit}");
}

#[tokio::test]
async fn three_workers_ticking_every_second_close_the_period_once() {
    let mut app = TestApp::spawn().await;
    let (chain, _) = last_months_team(&app).await;
    app.set_worker_env("HAAT_PERIOD_CLOSE_CRON", "* * * * * *");
    for _ in 0..3 {
        app.start_worker().await;
    }
    // Let at least three ticks run after the close.
    eventually("three ticks ran", || async {
        let done: i64 =
            sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.periods' AND status = 'Done'")
                .fetch_one(&app.pool)
                .await
                .ok()?;
        (done >= 3).then_some(())
    })
    .await;
    let closes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM period_closes").fetch_one(&app.pool).await.expect("closes");
    assert_eq!(closes, 1);
    assert_eq!(bonuses_paid(&app).await, (expected(&chain, &[]), 4));
    // One job per tick, whichever processes ticked.
    let (jobs, ticks): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT convert_from(job, 'UTF8')::jsonb ->> 'tick') FROM apalis.jobs
          WHERE job_type = 'haat.periods'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("ticks");
    assert_eq!(jobs, ticks);
}
