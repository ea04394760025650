//! The order-to-wallet pipeline end to end: real api and worker processes,
//! real Postgres, real SMTP, real signed webhooks.

use haat_tests::*;
use reqwest::StatusCode;

#[tokio::test]
async fn a_delivered_order_pays_five_levels_pending_then_available_and_emails_the_earners() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(7).await;
    let buyer = &chain[6];
    let order = app.place_order(buyer, &tea, 2, "online").await;
    assert_eq!(order["bv"], "600.00");

    assert_eq!(app.send_event("payments", &paid_event(&order)).await.0, StatusCode::OK);
    // The history below is that of payment first: let it take effect before
    // the delivery arrives (workers may take two events in either order).
    quiescent(&app.pool).await;
    assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);

    let expected = [(5, "60.00"), (4, "30.00"), (3, "18.00"), (2, "12.00"), (1, "6.00")];
    for (i, amount) in expected {
        let w = wallet_reaches(&app, &chain[i], "pending", amount).await;
        assert_eq!(w["available"], "0.00");
    }
    quiescent(&app.pool).await;
    let root = app.wallet(&chain[0]).await;
    assert_eq!((root["pending"].as_str(), root["available"].as_str()), (Some("0.00"), Some("0.00")));
    assert_eq!(ledger_totals(&app.pool).await, (rust_decimal::Decimal::ZERO, 0));

    let l1 = chain[5]["id"].as_str().unwrap_or_default();
    let (status, lines) = app.admin("GET", &format!("/v1/members/{l1}/commissions"), None).await;
    assert_eq!(status, StatusCode::OK);
    let line = &lines["items"][0];
    assert_eq!(lines["items"].as_array().map(Vec::len), Some(1));
    assert_eq!((line["physical_level"].as_i64(), line["paid_level"].as_i64()), (Some(1), Some(1)));
    assert_eq!((line["basis"].as_str(), line["amount"].as_str()), (Some("600.00"), Some("60.00")));
    assert_eq!((line["status"].as_str(), line["rule"].as_str()), (Some("pending"), Some("levels")));

    let (_, o) = app.admin("GET", &format!("/v1/orders/{}", order["id"].as_str().unwrap_or_default()), None).await;
    let statuses: Vec<_> = o["history"].as_array().into_iter().flatten().map(|h| h["status"].clone()).collect();
    assert_eq!(statuses, ["pending_payment", "paid", "delivered"]);

    // The buyer is told the payment arrived.
    let buyer_email = buyer["email"].as_str().unwrap_or_default().to_owned();
    let invoice = order["invoice_no"].as_str().unwrap_or_default().to_owned();
    eventually("the buyer's paid email reaches SMTP", || async {
        app.smtp.messages().into_iter().find(|m| {
            m.to.contains(&buyer_email) && m.data.contains(&format!("Subject: Order {invoice} is paid: thank you"))
        })
    })
    .await;

    let earner_email = chain[5]["email"].as_str().unwrap_or_default().to_owned();
    let mail = eventually("the commission email reaches SMTP", || async {
        app.smtp
            .messages()
            .into_iter()
            .find(|m| m.to.contains(&earner_email) && m.data.contains("You earned 60.00 BDT"))
    })
    .await;
    assert!(mail.data.contains(order["invoice_no"].as_str().unwrap_or("?")));

    let_days_pass(&app, 7).await;
    for (i, amount) in expected {
        let w = wallet_reaches(&app, &chain[i], "available", amount).await;
        assert_eq!(w["pending"], "0.00");
    }
    quiescent(&app.pool).await;
    assert_eq!(ledger_totals(&app.pool).await, (rust_decimal::Decimal::ZERO, 0));
    let (_, audit) = app.admin("GET", "/v1/admin/audit", None).await;
    assert_eq!(audit["ok"], true, "audit: {audit}");
    // Its hold over, the order is settled.
    let (_, o) = app.admin("GET", &format!("/v1/orders/{}", order["id"].as_str().unwrap_or_default()), None).await;
    let statuses: Vec<_> = o["history"].as_array().into_iter().flatten().map(|h| h["status"].clone()).collect();
    assert_eq!(statuses, ["pending_payment", "paid", "delivered", "settled"]);
    assert_eq!(o["history"][3]["source"], "release_hold");
}

#[tokio::test]
async fn with_no_holding_days_commissions_become_available_at_once() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(0)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(3).await;
    let order = app.place_order(&chain[2], &tea, 1, "cod").await;
    // Cash on delivery: the courier's delivery is the payment.
    assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);
    wallet_reaches(&app, &chain[1], "available", "30.00").await;
    wallet_reaches(&app, &chain[0], "available", "15.00").await;
    quiescent(&app.pool).await;
    assert_eq!(app.wallet(&chain[1]).await["pending"], "0.00");
    let (_, o) = app.admin("GET", &format!("/v1/orders/{}", order["id"].as_str().unwrap_or_default()), None).await;
    assert_eq!(o["status"], "settled", "no hold: settled at once");
    assert_eq!(ledger_totals(&app.pool).await, (rust_decimal::Decimal::ZERO, 0));

    // The buyer's volume is credited to the current period and rolls up.
    let period = chrono::Utc::now().format("%Y-%m").to_string();
    let id = |m: &serde_json::Value| m["id"].as_str().unwrap_or_default().to_owned();
    let (_, v) = app.admin("GET", &format!("/v1/members/{}/volume?period={period}", id(&chain[2])), None).await;
    assert_eq!((v["personal_pv"].as_str(), v["personal_bv"].as_str()), (Some("20.00"), Some("300.00")));
    let (_, v) = app.admin("GET", &format!("/v1/members/{}/volume?period={period}", id(&chain[0])), None).await;
    assert_eq!((v["personal_bv"].as_str(), v["group_bv"].as_str()), (Some("0.00"), Some("300.00")));
    let (_, team) =
        app.admin("GET", &format!("/v1/members/{}/team?depth=3&period={period}", id(&chain[0])), None).await;
    let levels: Vec<_> = team["levels"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| (l["level"].as_i64(), l["members"].as_i64(), l["bv"].as_str().map(str::to_owned)))
        .collect();
    assert_eq!(levels, [(Some(1), Some(1), Some("0.00".to_owned())), (Some(2), Some(1), Some("300.00".to_owned()))]);
    let (status, problem) =
        app.admin("GET", &format!("/v1/members/{}/volume?period=2026-13", id(&chain[0])), None).await;
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &serde_json::json!("period"))
    );
}

#[tokio::test]
async fn a_delivered_orders_own_and_commission_emails_go_out_in_one_job_and_a_refused_address_holds_back_no_other() {
    let mut app = TestApp::spawn().await;
    assert!(app.terminate_worker(0).await.success());
    app.set_worker_env("HAAT_RETRY_FIRST_MS", "20");
    app.set_worker_env("HAAT_RETRY_IN_PROCESS_MS", "100");
    app.set_worker_env("HAAT_RETRY_LONGEST_MS", "300");
    app.start_worker().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(4).await;
    let email = |i: usize| chain[i]["email"].as_str().unwrap_or_default().to_owned();
    app.smtp.refuse(&email(1));
    let order = app.place_order(&chain[3], &tea, 1, "cod").await;
    assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);

    let earned = |i: usize, amount: &'static str| {
        let to = email(i);
        let app = &app;
        move || {
            let to = to.clone();
            async move {
                let n = app
                    .smtp
                    .messages()
                    .iter()
                    .filter(|m| m.to.contains(&to) && m.data.contains(&format!("You earned {amount} BDT")))
                    .count();
                (n > 0).then_some(n)
            }
        }
    };
    eventually("level 1's email arrives", earned(2, "30.00")).await;
    eventually("level 3's email arrives", earned(0, "9.00")).await;
    // One job carries every email the delivered webhook's job wrote in its
    // one transaction (their `created_at` is its start): the buyer's
    // "delivered" email and the order's three commission emails among them.
    // It fails (one address refused) and is tried again.
    let order_id = order["id"].as_str().unwrap_or_default().to_owned();
    let job = || async {
        let row: Option<(serde_json::Value, i32, String)> = sqlx::query_as(
            "WITH written AS (
               SELECT jsonb_agg(n.id) AS ids,
                      count(*) FILTER (WHERE n.dedupe_key LIKE 'commission:' || $1 || ':%') AS commissions
                 FROM notifications n
                WHERE n.created_at = (SELECT created_at FROM notifications WHERE dedupe_key = 'order_delivered:' || $1))
             SELECT convert_from(j.job, 'UTF8')::jsonb, j.attempts, j.status FROM apalis.jobs j, written w
              WHERE j.job_type = 'haat.notifications' AND w.commissions = 3
                AND convert_from(j.job, 'UTF8')::jsonb -> 'notification_ids' @> w.ids
                AND w.ids @> (convert_from(j.job, 'UTF8')::jsonb -> 'notification_ids')",
        )
        .bind(&order_id)
        .fetch_optional(&app.pool)
        .await
        .expect("the emails' job");
        row
    };
    eventually("the job has failed and been tried again", || async { job().await.filter(|j| j.1 >= 2) }).await;

    app.smtp.accept_all();
    eventually("level 2's email arrives once its address is accepted", earned(1, "15.00")).await;
    quiescent(&app.pool).await;
    for (i, amount) in [(2, "30.00"), (1, "15.00"), (0, "9.00")] {
        assert_eq!(earned(i, amount)().await, Some(1), "member {i} got one email");
    }
    let (payload, attempts, status) = job().await.expect("the job");
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.notifications'")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(jobs, 2, "the placed email's job and this one: {payload}");
    assert_eq!(status, "Done");
    assert!(attempts >= 2, "{attempts}");
}
