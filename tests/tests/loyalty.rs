//! Instant per-order rewards and points: earned when the order is credited,
//! held and reversed like commissions, raised by tiers of trailing spend;
//! points spent oldest first and expired by the daily job, once.

use haat_tests::*;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

async fn delivered_order(app: &TestApp, buyer: &Value, product: &Value, quantity: i64) -> Value {
    let order = app.place_order(buyer, product, quantity, "cod").await;
    assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);
    quiescent(&app.pool).await;
    order
}

async fn standing(app: &TestApp, member: &Value) -> Value {
    let (status, s) =
        app.admin("GET", &format!("/v1/members/{}/loyalty", member["id"].as_str().unwrap_or_default()), None).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    s
}

#[tokio::test]
async fn points_are_held_like_commissions_a_tier_raises_the_rate_and_a_return_takes_its_share_back() {
    let app = TestApp::spawn().await;
    app.create_plan(loyalty_plan("credit")).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(2).await[1];

    let first = delivered_order(&app, buyer, &tea, 3).await;
    let s = standing(&app, buyer).await;
    assert_eq!((s["pending_points"].as_str(), s["points"].as_str()), (Some("27.00"), Some("0.00")), "{s}");
    assert_eq!(app.wallet(buyer).await["credit"], "0.00", "held points move no money");
    // 1350.00 of spend in the last 12 months: silver from now on.
    assert_eq!((s["tier"]["name"].as_str(), s["earn_rate"].as_str()), (Some("silver"), Some("0.03")));
    assert_eq!((s["spend_12m"].as_str(), s["next_tier"]["name"].as_str()), (Some("1350.00"), Some("gold")));

    delivered_order(&app, buyer, &tea, 1).await;
    let s = standing(&app, buyer).await;
    assert_eq!(s["pending_points"], "40.50", "27.00 at 2% plus 13.50 at silver's 3%");
    let tiers: Vec<(Option<String>, String)> =
        sqlx::query_as("SELECT tier, rate::text FROM order_rewards ORDER BY created_at")
            .fetch_all(&app.pool)
            .await
            .expect("rewards");
    assert_eq!(tiers, [(None, "0.0200".to_owned()), (Some("silver".to_owned()), "0.0300".to_owned())]);

    let_days_pass(&app, 7).await;
    wallet_reaches(&app, buyer, "credit", "40.50").await;
    let s = standing(&app, buyer).await;
    assert_eq!((s["points"].as_str(), s["pending_points"].as_str()), (Some("40.50"), Some("0.00")));
    let lots = s["lots"].as_array().cloned().unwrap_or_default();
    assert_eq!(lots.len(), 2);
    assert_eq!((lots[0]["points"].as_str(), lots[0]["order_id"].as_str()), (Some("27.00"), first["id"].as_str()));
    let expires: chrono::DateTime<chrono::Utc> =
        lots[0]["expires_at"].as_str().and_then(|t| t.parse().ok()).expect("expiry");
    assert!(expires > chrono::Utc::now() + chrono::Duration::days(29), "30 days after the credit: {expires}");

    // One of the first order's three units comes back: a third of its points go.
    let ret = json!({"lines": [{"order_line_id": first["lines"][0]["id"], "quantity": 1}], "reason": "damaged"});
    let (status, _) = app
        .admin("POST", &format!("/v1/orders/{}/returns", first["id"].as_str().unwrap_or_default()), Some(&ret))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    wallet_reaches(&app, buyer, "credit", "31.50").await;
    assert_eq!(standing(&app, buyer).await["lots"][0]["points"], "18.00");
    assert_eq!(entries_of(&app, "order_points_clawback").await, 1);
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0));
}

#[tokio::test]
async fn cash_rewards_are_pending_then_available_and_a_return_while_held_cancels_them() {
    let app = TestApp::spawn().await;
    app.create_plan(loyalty_plan("cash")).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(3).await;
    let (keeper, returner) = (&chain[1], &chain[2]);
    delivered_order(&app, keeper, &tea, 1).await;
    let returned = delivered_order(&app, returner, &tea, 1).await;
    // The returner's upline is the keeper: 10% of 300.00 BV besides the keeper's own 9.00.
    assert_eq!(app.wallet(keeper).await["pending"], "39.00");
    assert_eq!(app.wallet(returner).await["pending"], "9.00");

    let ret = json!({"lines": [{"order_line_id": returned["lines"][0]["id"], "quantity": 1}], "reason": "late"});
    let path = format!("/v1/orders/{}/returns", returned["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &path, Some(&ret)).await.0, StatusCode::CREATED);
    wallet_reaches(&app, returner, "pending", "0.00").await;
    wallet_reaches(&app, keeper, "pending", "9.00").await;
    assert_eq!(entries_of(&app, "order_cashback_cancelled").await, 1);

    let_days_pass(&app, 7).await;
    let w = wallet_reaches(&app, keeper, "available", "9.00").await;
    assert_eq!(w["pending"], "0.00");
    quiescent(&app.pool).await;
    assert_eq!(app.wallet(returner).await["available"], "0.00");
    assert_eq!(entries_of(&app, "order_cashback_release").await, 1);
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0));
}

#[tokio::test]
async fn points_are_spent_oldest_first_and_expire_once_however_often_the_daily_job_runs() {
    let mut app = TestApp::spawn().await;
    app.create_plan(loyalty_plan("credit")).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let soap = app.create_product("SOAP-1", "100.00", "50.00", 100).await;
    let buyer = &app.create_chain(2).await[1];
    let older = delivered_order(&app, buyer, &tea, 1).await;
    let newer = delivered_order(&app, buyer, &soap, 1).await;
    let_days_pass(&app, 7).await;
    // 9.00 and 2.00 at 2% (450.00 of earlier spend is short of silver).
    wallet_reaches(&app, buyer, "credit", "11.00").await;

    // 5.00 of credit spent at checkout comes out of the older lot.
    let mut body = order_body(buyer, &soap, 1, "cod");
    body["store_credit"] = json!("5.00");
    let key = uuid::Uuid::new_v4().to_string();
    let (status, spent) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", &key)])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{spent}");
    let lots = standing(&app, buyer).await["lots"].clone();
    assert_eq!((lots[0]["order_id"].as_str(), lots[0]["points"].as_str()), (older["id"].as_str(), Some("4.00")));
    assert_eq!((lots[1]["order_id"].as_str(), lots[1]["points"].as_str()), (newer["id"].as_str(), Some("2.00")));

    // Thirty days pass for the older lot; a worker runs the expiry every
    // second, and an admin asks for it twice more.
    sqlx::query("UPDATE order_rewards SET expires_at = now() - interval '1 second' WHERE order_id = $1")
        .bind(older["id"].as_str().and_then(|s| s.parse::<uuid::Uuid>().ok()))
        .execute(&app.pool)
        .await
        .expect("let the older lot age");
    app.set_worker_env("HAAT_POINTS_EXPIRY_CRON", "* * * * * *");
    app.start_worker().await;
    for _ in 0..2 {
        assert_eq!(app.admin("POST", "/v1/admin/loyalty/expire", None).await.0, StatusCode::ACCEPTED);
    }
    wallet_reaches(&app, buyer, "credit", "2.00").await;
    let email = buyer["email"].as_str().unwrap_or_default().to_owned();
    eventually("the expiry email", || async {
        app.smtp.messages().into_iter().find(|m| m.to.contains(&email) && m.data.contains("4.00 points expired"))
    })
    .await;
    assert_eq!(entries_of(&app, "points_expired").await, 1);
    let s = standing(&app, buyer).await;
    assert_eq!((s["points"].as_str(), s["lots"].as_array().map(Vec::len)), (Some("2.00"), Some(1)));

    // Cancelling the order gives the 5.00 back into the lot it came from,
    // which has expired: the next run takes it, once.
    let (status, _) =
        app.admin("POST", &format!("/v1/admin/orders/{}/cancel", spent["id"].as_str().unwrap_or_default()), None).await;
    assert_eq!(status, StatusCode::OK);
    eventually("the returned points expire", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM journal_entries WHERE kind = 'points_expired'")
            .fetch_one(&app.pool)
            .await
            .ok()?;
        (n == 2).then_some(())
    })
    .await;
    // (A worker ticking every second never lets the queue fall quiet.)
    wallet_reaches(&app, buyer, "credit", "2.00").await;
    assert_eq!(entries_of(&app, "points_expired").await, 2);
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0));
}
