//! The monthly period close end to end: group volume, ranks and team
//! bonuses posted once, whether an admin asks twice or three worker
//! processes tick on the same schedule.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

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

/// (member, bonus, amount, reason) of a run's bonus lines.
fn run_lines(run: &Value) -> Vec<(String, String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    run["bonus_lines"]
        .as_array()
        .expect("bonus lines")
        .iter()
        .map(|b| (text(&b["member_id"]), text(&b["bonus"]), text(&b["amount"]), text(&b["reason"])))
        .collect()
}

async fn step(app: &TestApp, period: &str, action: &str) -> (StatusCode, Value) {
    app.admin("POST", &format!("/v1/admin/periods/{period}/run/{action}"), None).await
}

#[tokio::test]
async fn in_review_mode_a_close_waits_as_a_run_a_late_return_makes_it_stale_and_a_commit_posts_exactly_the_run() {
    let (database_url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(database_url, pool, &[("HAAT_PERIOD_CLOSE_MODE", "review")]).await;
    let (chain, period) = last_months_team(&app).await;
    let close = format!("/v1/admin/periods/{period}/close");
    assert_eq!(app.admin("POST", &close, None).await.0, StatusCode::ACCEPTED);
    quiescent(&app.pool).await;

    let (status, run) = app.admin("GET", &format!("/v1/admin/periods/{period}/run"), None).await;
    assert_eq!(
        (status, run["status"].as_str(), &run["stale"]),
        (StatusCode::OK, Some("computed"), &Value::Null),
        "{run}"
    );
    let id = |i: usize| chain[i]["id"].as_str().unwrap_or_default().to_owned();
    let line = |i: usize, bonus: &str, amount: &str, reason: &str| {
        (id(i), bonus.to_owned(), amount.to_owned(), reason.to_owned())
    };
    let mut expected = vec![
        line(0, "gold_share", "15.00", "group PV 100.00 ≥ 100.00; rank gold or above; 0.01 × group BV 1500.00"),
        line(0, "team", "100.00", "group PV 100.00 ≥ 40.00; fixed 100.00"),
        line(1, "team", "100.00", "group PV 60.00 ≥ 40.00; fixed 100.00"),
        line(2, "team", "100.00", "group PV 40.00 ≥ 40.00; fixed 100.00"),
    ];
    expected.sort();
    assert_eq!(run_lines(&run), expected);
    assert_eq!((run["bonuses"].as_i64(), run["bonus_total"].as_str()), (Some(4), Some("315.00")));
    assert_eq!(bonuses_paid(&app).await, (vec![], 0), "nothing is posted before a commit");
    assert_eq!(app.admin("GET", &format!("/v1/admin/periods/{period}"), None).await.0, StatusCode::NOT_FOUND);
    let csv = app
        .http
        .get(format!("{}/v1/admin/periods/{period}/run?format=csv", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("body");
    assert_eq!(csv.lines().count(), 5, "a header and the four lines: {csv}");
    assert!(csv.lines().next().is_some_and(|h| h.ends_with("member_id,bonus,basis,amount,reason")), "{csv}");

    // A second close while the run waits computes nothing new.
    assert_eq!(app.admin("POST", &close, None).await.0, StatusCode::ACCEPTED);
    quiescent(&app.pool).await;
    let (_, again) = app.admin("GET", &format!("/v1/admin/periods/{period}/run"), None).await;
    assert_eq!(again["id"], run["id"]);

    // The last member's order comes back: the run is stale and cannot be committed.
    let (_, orders) = app.admin("GET", &format!("/v1/members/{}/orders", id(3)), None).await;
    let order_id = orders["items"][0]["id"].as_str().unwrap_or_default().to_owned();
    let (_, order) = app.admin("GET", &format!("/v1/orders/{order_id}"), None).await;
    let ret = json!({"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "changed mind"});
    let (status, made) = app.admin("POST", &format!("/v1/orders/{order_id}/returns"), Some(&ret)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    quiescent(&app.pool).await;
    let (status, problem) = step(&app, &period, "commit").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("volume changed")), "{problem}");
    assert_eq!(bonuses_paid(&app).await.1, 0);

    // Discarded and closed again: the new run has the new figures; committing posts exactly it.
    let (status, discarded) = step(&app, &period, "discard").await;
    assert_eq!((status, discarded["status"].as_str()), (StatusCode::OK, Some("discarded")));
    assert_eq!(app.admin("POST", &close, None).await.0, StatusCode::ACCEPTED);
    quiescent(&app.pool).await;
    let (_, second) = app.admin("GET", &format!("/v1/admin/periods/{period}/run"), None).await;
    assert_ne!(second["id"], run["id"]);
    let mut expected = vec![
        line(0, "team", "100.00", "group PV 80.00 ≥ 40.00; fixed 100.00"),
        line(1, "team", "100.00", "group PV 40.00 ≥ 40.00; fixed 100.00"),
    ];
    expected.sort();
    assert_eq!(run_lines(&second), expected);
    let (status, committed) = step(&app, &period, "commit").await;
    assert_eq!((status, committed["status"].as_str()), (StatusCode::OK, Some("committed")), "{committed}");
    let mut paid =
        vec![(id(0), "team".to_owned(), "100.00".to_owned()), (id(1), "team".to_owned(), "100.00".to_owned())];
    paid.sort();
    assert_eq!(bonuses_paid(&app).await, (paid, 2));
    let (status, closed) = app.admin("GET", &format!("/v1/admin/periods/{period}"), None).await;
    assert_eq!((status, closed["bonus_total"].as_str()), (StatusCode::OK, Some("200.00")));
    assert_eq!(step(&app, &period, "commit").await.0, StatusCode::NOT_FOUND, "nothing waits any more");
    assert_eq!(step(&app, &period, "discard").await.0, StatusCode::NOT_FOUND);
    assert_eq!(ledger_totals(&app.pool).await, (rust_decimal::Decimal::ZERO, 0));
}

#[tokio::test]
async fn a_close_answers_its_job_whose_outcome_the_admin_reads_once_it_has_run() {
    let app = TestApp::spawn().await;
    let (_, period) = last_months_team(&app).await;
    let close = format!("/v1/admin/periods/{period}/close");
    let (status, queued) = app.admin("POST", &close, None).await;
    assert_eq!((status, queued["status"].as_str()), (StatusCode::ACCEPTED, Some("queued")), "{queued}");
    let job = queued["job_id"].as_str().unwrap_or_default().to_owned();
    let done = eventually("the close job done", || async {
        let (_, j) = app.admin("GET", &format!("/v1/admin/jobs/{job}"), None).await;
        (j["status"] == "Done").then_some(j)
    })
    .await;
    assert_eq!(done["key"].as_str().map(|k| k.starts_with(&format!("close_period:{period}:"))), Some(true), "{done}");
    assert_eq!(done["result"], json!({"period": period, "outcome": "Now"}));
    assert_eq!(done["progress"], json!({"unit": "steps", "done": 2, "total": 2}));
    // Asked again: another job, which finds the period closed.
    let (_, again) = app.admin("POST", &close, None).await;
    let second = again["job_id"].as_str().unwrap_or_default().to_owned();
    assert_ne!(second, job);
    let repeat = eventually("the second close job done", || async {
        let (_, j) = app.admin("GET", &format!("/v1/admin/jobs/{second}"), None).await;
        (j["status"] == "Done").then_some(j)
    })
    .await;
    assert_eq!(repeat["result"]["outcome"], "Already");
    assert_eq!(repeat["progress"], Value::Null, "a close that finds the period closed has no steps to count");
}

#[tokio::test]
async fn a_running_close_shows_its_progress_while_its_transaction_is_still_open() {
    let app = TestApp::spawn().await;
    let (_, period) = last_months_team(&app).await;
    // Hold every member account: the close decides its bonuses, then waits
    // to post them.
    let mut holding = app.pool.begin().await.expect("begin");
    sqlx::query("SELECT id FROM accounts WHERE member_id IS NOT NULL FOR UPDATE")
        .execute(&mut *holding)
        .await
        .expect("lock the accounts");
    let (_, queued) = app.admin("POST", &format!("/v1/admin/periods/{period}/close"), None).await;
    let job = format!("/v1/admin/jobs/{}", queued["job_id"].as_str().unwrap_or_default());
    let waiting = eventually("the close has decided and waits to post", || async {
        let (_, j) = app.admin("GET", &job, None).await;
        (j["progress"]["done"] == 1).then_some(j)
    })
    .await;
    assert_eq!(waiting["progress"], json!({"unit": "steps", "done": 1, "total": 2}));
    assert_eq!(waiting["result"], Value::Null, "the close has not committed");
    assert_eq!(bonuses_paid(&app).await.1, 0);
    holding.rollback().await.expect("release the accounts");
    let done = eventually("the close job done", || async {
        let (_, j) = app.admin("GET", &job, None).await;
        (j["status"] == "Done").then_some(j)
    })
    .await;
    assert_eq!(done["progress"], json!({"unit": "steps", "done": 2, "total": 2}));
    assert_eq!(done["result"]["outcome"], "Now");
    assert_eq!(bonuses_paid(&app).await.1, 4);
}
