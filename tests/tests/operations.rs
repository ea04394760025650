//! Operating the workers: the audit command, stops graceful and not, dead
//! jobs, pruning and metrics.

use chrono::{Duration, Utc};
use haat_domain::seed::{self, SeedMember, SeedPurchase};
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn the_audit_command_exits_zero_on_a_sound_database_and_one_naming_each_violation() {
    let (app, chain, _) = delivered_and_held().await;

    let out = app.worker_command(&["audit"]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok   journal_entries_sum_to_zero") && text.contains("0 failed"), "{text}");

    // A cached balance that no posting explains.
    let account: i64 = sqlx::query_scalar(
        "UPDATE accounts SET balance = balance + 1 WHERE member_id = $1 AND kind = 'pending' RETURNING id",
    )
    .bind(chain[1]["id"].as_str().and_then(|s| s.parse::<Uuid>().ok()))
    .fetch_one(&app.pool)
    .await
    .expect("tamper");
    let out = app.worker_command(&["audit"]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL cached_balances_match_postings"), "{text}");
    assert!(text.contains(&format!("     {account}\n")), "{text}");
    let (_, audit) = app.admin("GET", "/v1/admin/audit", None).await;
    assert_eq!(audit["ok"], false, "{audit}");
}

/// Seeds `n` buyers of one course, each with a paid order two days ago, and
/// a campaign paying them 10% back; asks for its settlement now and waits
/// until a worker runs it. Returns the campaign's admin path.
async fn start_big_settlement(app: &TestApp, n: usize) -> String {
    let plan = app.create_plan(five_level_plan(7)).await;
    let course = app.create_product("COURSE-A", "100.00", "10.00", 1_000_000).await;
    let root = SeedMember { id: Uuid::now_v7(), parent_id: None };
    let mut members = vec![root.clone()];
    members.extend((0..n).map(|_| SeedMember { id: Uuid::now_v7(), parent_id: Some(root.id) }));
    let paid_at = Utc::now() - Duration::days(2);
    let purchases: Vec<SeedPurchase> =
        members[1..].iter().map(|m| SeedPurchase { buyer_id: m.id, quantity: 1, credited_at: paid_at }).collect();
    {
        let mut conn = app.pool.acquire().await.expect("connection");
        seed::members(&mut conn, &members, "BDT").await.expect("members");
        let product = course["id"].as_str().and_then(|s| s.parse().ok()).expect("product id");
        let plan = plan["id"].as_str().and_then(|s| s.parse().ok()).expect("plan id");
        seed::credited_orders(&mut conn, product, plan, &purchases, chrono_tz::UTC, "BDT", true).await.expect("orders");
    }
    let body = json!({"name": "Big", "scope": {"kind": "product", "product_id": course["id"]},
                      "starts_at": (paid_at - Duration::days(1)).to_rfc3339(),
                      "ends_at": (paid_at + Duration::days(1)).to_rfc3339(),
                      "settle_at": (Utc::now() + Duration::days(1)).to_rfc3339(),
                      "rate": "0.10", "trigger": "reached", "min_units": 1});
    let (status, campaign) = app.admin("POST", "/v1/admin/campaigns", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    let path = format!("/v1/admin/campaigns/{}", campaign["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &format!("{path}/settle"), None).await.0, StatusCode::ACCEPTED);
    eventually("the settlement is running", || async {
        let running: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.campaigns' AND status = 'Running'",
        )
        .fetch_one(&app.pool)
        .await
        .ok()?;
        (running == 1).then_some(())
    })
    .await;
    path
}

/// The settle job's row: status and attempts.
async fn settle_job(app: &TestApp) -> (String, i32) {
    sqlx::query_as("SELECT status, attempts FROM apalis.jobs WHERE job_type = 'haat.campaigns' ORDER BY run_at LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .expect("the settle job's row")
}

#[tokio::test]
async fn sigterm_during_a_settlement_lets_it_finish_and_the_worker_exits_zero() {
    let mut app = TestApp::spawn().await;
    let path = start_big_settlement(&app, 20_000).await;

    let exit = app.terminate_worker(0).await;
    assert!(exit.success(), "{exit:?}");
    let (_, settled) = app.admin("GET", &path, None).await;
    assert_eq!(settled["status"], "settled", "the job in flight finished before the exit: {settled}");
    assert_eq!(settled["settlement"]["paid_purchases"], 20_000);
    assert_eq!(settle_job(&app).await, ("Done".to_owned(), 1));
}

#[tokio::test]
async fn a_worker_killed_in_the_middle_of_a_settlement_leaves_it_to_another_which_pays_once() {
    let mut app = TestApp::spawn().await;
    // Workers that notice a silent one after 4 × 500 ms.
    assert!(app.terminate_worker(0).await.success());
    app.set_worker_env("HAAT_WORKER_HEARTBEAT_MS", "500");
    app.set_worker_env("HAAT_WORKER_MISSED_HEARTBEATS", "4");
    app.start_worker().await;
    let path = start_big_settlement(&app, 20_000).await;

    app.kill_worker(1).await;
    let (_, open) = app.admin("GET", &path, None).await;
    assert_eq!(open["status"], "scheduled", "killed before it committed: {open}");
    assert_eq!(settle_job(&app).await.0, "Running", "the dead worker's job is still marked running");

    app.start_worker().await;
    let settled = eventually("another worker settles the campaign", || async {
        let (_, c) = app.admin("GET", &path, None).await;
        (c["status"] == "settled").then_some(c)
    })
    .await;
    assert_eq!(settled["settlement"]["paid_purchases"], 20_000);
    assert_eq!(settled["settlement"]["paid_total"], "200000.00");
    // (Not `quiescent`: the 20,000 buyers' emails take their time.)
    let job = eventually("the job is marked done", || async {
        let job = settle_job(&app).await;
        (job.0 == "Done").then_some(job)
    })
    .await;
    assert_eq!(job.1, 2, "attempt 1 died with its worker");
    assert_eq!(entries_of(&app, "cashback").await, 20_000);
    let (_, audit) = app.admin("GET", "/v1/admin/audit", None).await;
    assert_eq!(audit["ok"], true, "{audit}");
}

#[tokio::test]
async fn a_job_that_always_fails_is_dead_after_its_attempts_with_growing_delays_and_an_admin_retries_it() {
    // 20, 40 and 80 ms are waited in process; from 160 ms on (at most
    // 300 ms) each next attempt is scheduled in the job table.
    let (mut app, order, dead, good_smtp) = dead_placed_email("300").await;
    assert_eq!((dead["attempts"].as_i64(), dead["max_attempts"].as_i64()), (Some(21), Some(21)), "{dead}");
    let key = dead["key"].as_str().unwrap_or_default().to_owned();
    assert!(key.starts_with("notify:"), "{dead}");

    // Every attempt was logged (JSON) with its number; the first three
    // were retried in process, the next ones scheduled, the last was final.
    let failures: Vec<serde_json::Value> =
        app.job_log(1, &key).into_iter().filter(|l| l["level"] == "WARN" || l["level"] == "ERROR").collect();
    let numbers: Vec<i64> = failures.iter().filter_map(|l| l["span"]["attempt"].as_i64()).collect();
    assert_eq!(numbers, (1..=21).collect::<Vec<i64>>(), "one line per failed attempt");
    let said = |l: &serde_json::Value, what: &str| l["message"].as_str().unwrap_or_default().contains(what);
    assert!(failures[..3].iter().all(|l| said(l, "runs again in this worker")), "{failures:?}");
    assert!(failures[3..20].iter().all(|l| said(l, "next attempt is scheduled")), "{failures:?}");
    let delays: Vec<i64> = failures[3..20].iter().filter_map(|l| l["next_attempt_in_ms"].as_i64()).collect();
    assert_eq!(delays.len(), 17);
    assert!(delays[0] >= 160 && delays.iter().all(|d| *d <= 300), "{delays:?}");
    assert!(failures[20]["level"] == "ERROR" && said(&failures[20], "dead"), "{:?}", failures[20]);
    let times: Vec<chrono::DateTime<Utc>> =
        failures.iter().filter_map(|l| l["timestamp"].as_str().and_then(|t| t.parse().ok())).collect();
    let gaps: Vec<i64> = times.windows(2).map(|w| (w[1] - w[0]).num_milliseconds()).collect();
    // The table holds a scheduled attempt back at least its delay.
    assert!(gaps[3..].iter().all(|g| *g >= 160), "scheduled waits: {gaps:?}");

    // The mail server is back: the admin retries the dead job and it is sent.
    assert!(app.terminate_worker(1).await.success());
    app.set_worker_env("HAAT_SMTP_URL", &good_smtp);
    app.start_worker().await;
    let id = dead["id"].as_str().unwrap_or_default().to_owned();
    let (status, retried) = app.admin("POST", &format!("/v1/admin/jobs/{id}/retry"), None).await;
    assert_eq!((status, retried["status"].as_str()), (StatusCode::OK, Some("Pending")), "{retried}");
    let invoice = order["invoice_no"].as_str().unwrap_or_default().to_owned();
    eventually("the placed email arrives", || async {
        app.smtp.messages().into_iter().find(|m| m.data.contains(&invoice))
    })
    .await;
    // Completion is acknowledged shortly after the send.
    eventually("the retried job is listed as done", || async {
        let (_, done) = app.admin("GET", "/v1/admin/jobs?status=done&queue=notifications", None).await;
        done["items"].as_array().into_iter().flatten().any(|j| j["id"] == id.as_str()).then_some(())
    })
    .await;
    let (status, p) = app.admin("POST", &format!("/v1/admin/jobs/{id}/retry"), None).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::CONFLICT, Some("status")));
    assert_eq!(app.admin("POST", "/v1/admin/jobs/nope/retry", None).await.0, StatusCode::NOT_FOUND);
    let (status, p) = app.admin("GET", "/v1/admin/jobs?status=lost", None).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));
}

#[tokio::test]
async fn finished_jobs_are_pruned_on_schedule_and_dead_ones_are_kept() {
    let mut app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &tea, 1, "cod").await;
    assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);
    wallet_reaches(&app, &chain[0], "pending", "30.00").await;
    quiescent(&app.pool).await;
    // One of the finished jobs stands in for a dead one.
    let dead: String = sqlx::query_scalar(
        "UPDATE apalis.jobs SET status = 'Failed', attempts = max_attempts
          WHERE id = (SELECT id FROM apalis.jobs WHERE job_type = 'haat.notifications' AND status = 'Done' LIMIT 1)
      RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .expect("a dead job");

    app.set_worker_env("HAAT_WORKER_QUEUES", "maintenance");
    app.set_worker_env("HAAT_PRUNE_CRON", "* * * * * *");
    app.set_worker_env("HAAT_JOB_RETENTION_HOURS", "0");
    app.start_worker().await;
    eventually("the order's finished jobs are pruned", || async {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE status = 'Done' AND job_type IN ('haat.webhooks', 'haat.volume', 'haat.commission')",
        )
        .fetch_one(&app.pool)
        .await
        .ok()?;
        (left == 0).then_some(())
    })
    .await;
    let (_, jobs) = app.admin("GET", "/v1/admin/jobs?status=dead", None).await;
    let ids: Vec<&str> = jobs["items"].as_array().into_iter().flatten().filter_map(|j| j["id"].as_str()).collect();
    assert_eq!(ids, [dead.as_str()]);
    // The order's effects stay; only the queue's bookkeeping went.
    assert_eq!(app.wallet(&chain[0]).await["pending"], "30.00");
}

/// The value of the Prometheus sample `name{labels}` in `text` (labels in
/// the exporter's order), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
}

#[tokio::test]
async fn the_api_and_each_worker_serve_prometheus_metrics_and_health() {
    let mut app = TestApp::spawn().await;
    // One worker, logging JSON (its address is in its "running" line).
    assert!(app.terminate_worker(0).await.success());
    app.set_worker_env("HAAT_LOG_FORMAT", "json");
    app.start_worker().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &tea, 1, "cod").await;
    assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);
    let forged = app.webhook_signed("payments", "msg_forged", Utc::now().timestamp() + 3600, "{}").await;
    assert_eq!(forged, StatusCode::UNAUTHORIZED);
    wallet_reaches(&app, &chain[0], "pending", "30.00").await;
    quiescent(&app.pool).await;

    let api = app.http.get(format!("{}/metrics", app.base)).send().await.expect("scrape").text().await.expect("text");
    let orders = sample(&api, r#"haat_http_requests_total{route="/v1/orders",method="POST",status="201"}"#);
    assert_eq!(orders, Some(1.0), "{api}");
    assert_eq!(sample(&api, r#"haat_webhooks_total{provider="generic",outcome="accepted"}"#), Some(1.0), "{api}");
    assert_eq!(sample(&api, r#"haat_webhooks_total{provider="generic",outcome="unauthorized"}"#), Some(1.0), "{api}");
    assert_eq!(sample(&api, r#"haat_jobs{queue="haat.webhooks",status="Done"}"#), Some(1.0), "{api}");

    let addr = app
        .worker_log(1)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|l| l["http"].as_str().map(str::to_owned))
        .expect("the worker's HTTP address");
    let worker = reqwest::Client::new();
    for path in ["healthz", "readyz"] {
        let status = worker.get(format!("http://{addr}/{path}")).send().await.expect("probe").status();
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let text = worker.get(format!("http://{addr}/metrics")).send().await.expect("scrape").text().await.expect("text");
    assert!(text.contains("haat_jobs{queue=\"haat.webhooks\",status=\"Done\"} 1"), "{text}");
    assert!(text.contains("haat_job_duration_seconds"), "{text}");
    assert_eq!(sample(&text, r#"haat_job_runs_total{queue="haat.webhooks",outcome="ok"}"#), Some(1.0), "{text}");
    // The delivered webhook's job credits the volume and cascades in its own
    // transaction: neither the volume nor the commission queue ran anything.
    assert_eq!(sample(&text, r#"haat_job_runs_total{queue="haat.volume",outcome="ok"}"#), None, "{text}");
    assert_eq!(sample(&text, r#"haat_job_runs_total{queue="haat.commission",outcome="ok"}"#), None, "{text}");

    // Every job's lines name the order, the webhook's once its invoice number was looked up.
    let order_id = order["id"].as_str().unwrap_or_default();
    let log = app.worker_log(1);
    let lines: Vec<serde_json::Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    for message in ["webhook processed", "volume credited and commissions posted"] {
        let of: Vec<&serde_json::Value> = lines.iter().filter(|l| l["message"] == message).collect();
        assert!(!of.is_empty() && of.iter().all(|l| l["span"]["order_id"] == order_id), "{message}: {log}");
    }
}

#[tokio::test]
async fn jobs_are_listed_by_public_queue_name_and_status_a_page_at_a_time_each_exactly_once() {
    let app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let member = &app.create_chain(1).await[0];
    for _ in 0..7 {
        app.place_order(member, &tea, 1, "cod").await;
    }
    quiescent(&app.pool).await;
    let in_table: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM apalis.jobs WHERE job_type = 'haat.notifications' AND status = 'Done' ORDER BY id DESC",
    )
    .fetch_all(&app.pool)
    .await
    .expect("jobs");
    assert!(in_table.len() >= 7, "one placed email each: {in_table:?}");
    // A walk of pages of 3 gives every done notification job once, newest first.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (status, page) =
            app.admin("GET", &format!("/v1/admin/jobs?status=done&queue=notifications&limit=3{after}"), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= 3);
        assert!(items.iter().all(|j| j["queue"] == "notifications"), "{page}");
        walked.extend(items.iter().filter_map(|j| j["id"].as_str().map(str::to_owned)));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(walked, in_table);
    let (status, one) = app.admin("GET", &format!("/v1/admin/jobs/{}", in_table[0]), None).await;
    assert_eq!(
        (status, one["status"].as_str(), one["queue"].as_str()),
        (StatusCode::OK, Some("Done"), Some("notifications"))
    );
    assert_eq!(app.admin("GET", "/v1/admin/jobs/nope", None).await.0, StatusCode::NOT_FOUND);
    let (status, p) = app.admin("GET", &format!("/v1/admin/jobs?status=done&cursor={}", "x".repeat(65)), None).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("cursor")));
    // `failed` is a job that failed and has attempts left: listed as
    // failed and as pending, not as dead.
    let id = &in_table[0];
    sqlx::query(
        "UPDATE apalis.jobs SET status = 'Failed', attempts = 1, run_at = now() + interval '1 hour' WHERE id = $1",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .expect("fail one");
    for (status, listed) in [("failed", true), ("pending", true), ("dead", false)] {
        let (_, page) = app.admin("GET", &format!("/v1/admin/jobs?status={status}&queue=notifications"), None).await;
        let ids: Vec<&str> = page["items"].as_array().into_iter().flatten().filter_map(|j| j["id"].as_str()).collect();
        assert_eq!(ids.contains(&id.as_str()), listed, "status={status}: {page}");
    }
    let (status, p) = app.admin("GET", "/v1/admin/jobs?queue=emails", None).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("queue")), "{p}");
}

#[tokio::test]
async fn the_audit_finds_a_commission_altered_by_sql_a_fact_applied_twice_and_a_key_used_twice() {
    let (app, _, order) = delivered_and_held().await;
    assert_eq!(failed_audit_checks(&app).await, Vec::<(String, Vec<String>)>::new());
    let invoice = order["invoice_no"].as_str().unwrap_or_default().to_owned();
    let order_id: Uuid = order["id"].as_str().and_then(|s| s.parse().ok()).expect("order id");

    // 30.00 (10% of BV 300) made 31.00 behind the engine's back.
    let altered: Uuid =
        sqlx::query_scalar("UPDATE commissions SET amount = 31.00 WHERE order_id = $1 AND paid_level = 1 RETURNING id")
            .bind(order_id)
            .fetch_one(&app.pool)
            .await
            .expect("alter");
    // The delivery recorded again as applied, from another event.
    sqlx::query(
        "INSERT INTO order_events (order_id, fact, outcome, source) VALUES ($1, 'delivered', 'applied', 'api')",
    )
    .bind(order_id)
    .execute(&app.pool)
    .await
    .expect("duplicate the fact");
    // A journal key used twice (its uniqueness dropped first, as a careless
    // migration might).
    for statement in [
        "ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_idempotency_key_key",
        "INSERT INTO journal_entries (idempotency_key, kind, reference)
         SELECT idempotency_key, kind, reference FROM journal_entries WHERE kind = 'commission' LIMIT 1",
    ] {
        sqlx::query(statement).execute(&app.pool).await.expect("reuse a key");
    }

    let failed = failed_audit_checks(&app).await;
    let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    for expected in
        ["no_idempotency_key_used_twice", "no_fact_applied_twice", "commissions_reproducible_from_their_inputs"]
    {
        assert!(names.contains(&expected), "{expected} in {failed:?}");
    }
    let of = |name: &str| failed.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(
        of("commissions_reproducible_from_their_inputs"),
        [format!("\"commission {altered} is 31.00 but its inputs make 30.00\"")]
    );
    assert_eq!(of("no_fact_applied_twice"), [format!("\"{invoice}: delivered applied 2 times\"")]);
    assert_eq!(of("no_idempotency_key_used_twice").len(), 1, "{failed:?}");
}

#[tokio::test]
async fn the_audit_reruns_the_cascade_and_finds_a_rate_rewritten_with_its_amount_and_a_share_moved_to_another_member() {
    let (app, chain, order) = delivered_and_held().await;
    assert_eq!(failed_audit_checks(&app).await, Vec::<(String, Vec<String>)>::new());
    let order_id: Uuid = order["id"].as_str().and_then(|s| s.parse().ok()).expect("order id");
    let line: Uuid = order["lines"][0]["id"].as_str().and_then(|s| s.parse().ok()).expect("line id");
    let (parent, top) = (chain[1]["id"].as_str().expect("id"), chain[0]["id"].as_str().expect("id"));

    // Level 1's 10% of BV 300 = 30.00 rewritten as 12% = 36.00: the row is
    // consistent with itself, so only a re-run of the cascade shows it.
    sqlx::query("UPDATE commissions SET rate = 0.12, amount = 36.00, rounding_residue = 0 WHERE order_id = $1 AND paid_level = 1")
        .bind(order_id)
        .execute(&app.pool)
        .await
        .expect("rewrite level 1");
    // Level 2's 15.00 (5%) of the top member moved to the parent.
    sqlx::query("UPDATE commissions SET beneficiary_id = $2 WHERE order_id = $1 AND paid_level = 2")
        .bind(order_id)
        .bind(Uuid::parse_str(parent).expect("uuid"))
        .execute(&app.pool)
        .await
        .expect("move level 2");

    let failed = failed_audit_checks(&app).await;
    let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    assert!(!names.contains(&"commissions_reproducible_from_their_inputs"), "each row is self-consistent: {failed:?}");
    let rerun = failed.iter().find(|(n, _)| n == "commissions_match_a_rerun_of_the_cascade").map(|(_, v)| v.clone());
    let share = |level: u32, to: &str, rate: &str, amount: &str| {
        format!("level commission (level {level}) on line {line} to {to}: 300.00 × {rate} = {amount}")
    };
    assert_eq!(
        rerun.expect("the re-run check fails"),
        [
            // In the order of (line, beneficiary): the top member joined first.
            format!(
                "\"order {order_id}: the cascade makes {} but it is not stored\"",
                share(2, top, "0.0500", "15.00")
            ),
            format!(
                "\"order {order_id}: stored {} but the cascade makes {}\"",
                share(1, parent, "0.1200", "36.00"),
                share(1, parent, "0.1000", "30.00")
            ),
            format!(
                "\"order {order_id}: stored {} is not what the cascade makes\"",
                share(2, parent, "0.0500", "15.00")
            ),
        ]
    );
}

#[tokio::test]
async fn a_cascade_run_again_after_it_committed_pays_no_one_new_even_after_the_buyer_moved() {
    let (app, chain, order) = delivered_and_held().await;
    let order_id: Uuid = order["id"].as_str().and_then(|s| s.parse().ok()).expect("order id");
    // A new member under the top, and the buyer moved under them: a second
    // read of the tree would now pay the newcomer level 1.
    let code = chain[0]["referral_code"].as_str().expect("code");
    let (status, newcomer) = app
        .admin(
            "POST",
            "/v1/members",
            Some(&json!({"name": "Nabil", "email": "nabil@example.com", "sponsor_code": code})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{newcomer}");
    let buyer = chain[2]["id"].as_str().expect("id");
    let (status, moved) = app
        .admin("POST", &format!("/v1/admin/members/{buyer}/placement"), Some(&json!({"parent_id": newcomer["id"]})))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");

    // The job delivered a second time (a worker that died before its ack).
    let mut tx = app.pool.begin().await.expect("tx");
    haat_domain::compensation::commissions::cascade_commission(&mut tx, order_id, "BDT", &Default::default())
        .await
        .expect("rerun");
    tx.commit().await.expect("commit");

    let paid: Vec<(String, String)> = sqlx::query_as(
        "SELECT beneficiary_id::text, amount::text FROM commissions WHERE order_id = $1 ORDER BY paid_level",
    )
    .bind(order_id)
    .fetch_all(&app.pool)
    .await
    .expect("commissions");
    let id = |m: &serde_json::Value| m["id"].as_str().expect("id").to_owned();
    assert_eq!(paid, [(id(&chain[1]), "30.00".to_owned()), (id(&chain[0]), "15.00".to_owned())]);
    wallet_reaches(&app, &newcomer, "pending", "0.00").await;
    assert_eq!(failed_audit_checks(&app).await, Vec::<(String, Vec<String>)>::new());
}

#[tokio::test]
async fn the_audit_finds_a_summary_hour_that_no_longer_sums_its_postings() {
    let (app, chain, _) = delivered_and_held().await;
    assert_eq!(failed_audit_checks(&app).await, Vec::<(String, Vec<String>)>::new());
    let member: Uuid = chain[1]["id"].as_str().and_then(|s| s.parse().ok()).expect("member id");
    let hour: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "UPDATE ledger_hours SET amount = amount + 1 WHERE member_id = $1 AND entry_kind = 'commission' RETURNING hour",
    )
    .bind(member)
    .fetch_one(&app.pool)
    .await
    .expect("alter the summary");
    let failed = failed_audit_checks(&app).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "ledger_summary_matches_postings");
    let at = hour.format("%Y-%m-%dT%HZ");
    // Level 1 of BV 300.00 at 10%: 30.00 posted, 31.00 in the summary.
    assert_eq!(
        failed[0].1,
        [format!(
            "\"{member} pending {at} commission level level 1 : summary 31.00 0.000000 postings 30.00 0.000000\""
        )]
    );
}
