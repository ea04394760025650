//! The order lifecycle past delivery: cod through a courier, returns inside
//! and outside the window, partial returns after the hold, clawback.

use haat_tests::providers::*;
use haat_tests::*;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

async fn order_of(app: &TestApp, order: &Value) -> Value {
    let id = order["id"].as_str().unwrap_or_default();
    let (status, o) = app.admin("GET", &format!("/v1/orders/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    o
}

async fn statuses_of_commissions(app: &TestApp, order: &Value) -> Vec<String> {
    let id: uuid::Uuid = order["id"].as_str().and_then(|s| s.parse().ok()).expect("order id");
    sqlx::query_scalar("SELECT status FROM commissions WHERE order_id = $1 ORDER BY beneficiary_id")
        .bind(id)
        .fetch_all(&app.pool)
        .await
        .expect("commission statuses")
}

/// Σ of a member's volume entries (pv, bv).
async fn volume_of(app: &TestApp, member: &Value) -> (Decimal, Decimal) {
    let id: uuid::Uuid = member["id"].as_str().and_then(|s| s.parse().ok()).expect("member id");
    sqlx::query_as("SELECT coalesce(sum(pv), 0), coalesce(sum(bv), 0) FROM volume_entries WHERE member_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("volume")
}

#[tokio::test]
async fn a_cod_order_delivered_by_steadfast_then_returned_through_pathao_nets_every_wallet_to_zero() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(4).await;
    let order = app.place_order(&chain[3], &tea, 2, "cod").await;

    let (status, reply) =
        app.steadfast(steadfast_body(&order, "Delivered", "2026-11-22 12:45:30"), STEADFAST_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["status"], "success");
    // BV 600: L1 10% = 60, L2 5% = 30, L3 3% = 18.
    wallet_reaches(&app, &chain[2], "pending", "60.00").await;
    wallet_reaches(&app, &chain[0], "pending", "18.00").await;
    let delivered = order_of(&app, &order).await;
    assert_eq!(delivered["status"], "delivered");
    let facts: Vec<&str> =
        delivered["history"].as_array().expect("history").iter().filter_map(|h| h["status"].as_str()).collect();
    assert_eq!(facts, ["pending_payment", "delivered"]);
    assert_eq!(volume_of(&app, &chain[3]).await, (Decimal::new(4000, 2), Decimal::new(60000, 2)));

    let (status, _) =
        app.pathao(pathao_body(&order, "order.returned", "2026-11-23T09:00:00+00:00"), PATHAO_SECRET).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    wallet_reaches(&app, &chain[2], "pending", "0.00").await;
    quiescent(&app.pool).await;
    for member in &chain {
        let w = app.wallet(member).await;
        assert_eq!(
            (w["pending"].as_str(), w["available"].as_str()),
            (Some("0.00"), Some("0.00")),
            "{}",
            member["name"]
        );
    }
    assert_eq!(statuses_of_commissions(&app, &order).await, ["reversed"; 3]);
    assert_eq!(volume_of(&app, &chain[3]).await, (Decimal::ZERO, Decimal::ZERO));
    let returned = order_of(&app, &order).await;
    assert_eq!(returned["status"], "returned");
    assert_eq!(returned["lines"][0]["reversed_quantity"], 2);
    assert_eq!(returned["reversals"][0]["kind"], "return");
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0));
    // The upline is told their commission was reversed.
    let to = chain[2]["email"].as_str().unwrap_or_default().to_owned();
    eventually("the reversal email", || async {
        let mails = app.smtp.messages();
        mails
            .iter()
            .any(|m| m.to.contains(&to) && m.data.contains("Subject: 60.00 BDT of commission reversed"))
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn returning_one_line_of_two_after_the_hold_claws_back_exactly_that_lines_commissions() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let honey = app.create_product("HONEY-1", "800.00", "200.00", 100).await;
    let chain = app.create_chain(3).await;
    let mut body = order_body(&chain[2], &tea, 1, "cod");
    body["lines"] = json!([{"product_id": tea["id"], "quantity": 1}, {"product_id": honey["id"], "quantity": 2}]);
    let key = uuid::Uuid::new_v4().to_string();
    let (status, order) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", &key)])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    app.send_event("couriers", &delivered_event(&order)).await;
    // BV 300 + 400: L1 = 30 + 40, L2 = 15 + 20.
    wallet_reaches(&app, &chain[1], "pending", "70.00").await;
    wallet_reaches(&app, &chain[0], "pending", "35.00").await;
    let_days_pass(&app, 8).await;
    wallet_reaches(&app, &chain[1], "available", "70.00").await;
    wallet_reaches(&app, &chain[0], "available", "35.00").await;

    let honey_line = order["lines"][1]["id"].clone();
    let ret = json!({"lines": [{"order_line_id": honey_line, "quantity": 2}], "reason": "damaged"});
    let id = order["id"].as_str().unwrap_or_default();
    let (status, made) = app.admin("POST", &format!("/v1/orders/{id}/returns"), Some(&ret)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["lines"], json!([{"order_line_id": honey_line, "quantity": 2}]));
    wallet_reaches(&app, &chain[1], "available", "30.00").await;
    wallet_reaches(&app, &chain[0], "available", "15.00").await;
    quiescent(&app.pool).await;
    let (_, statement) =
        app.admin("GET", &format!("/v1/members/{}/statement", chain[1]["id"].as_str().unwrap_or_default()), None).await;
    assert_eq!(statement["items"][0]["kind"], "clawback");
    assert_eq!(statement["items"][0]["amount"], "-40.00");
    assert_eq!(order_of(&app, &order).await["status"], "partially_returned");
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0));

    // The same line cannot come back twice; the other line can.
    let (status, problem) = app.admin("POST", &format!("/v1/orders/{id}/returns"), Some(&ret)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "lines[0].quantity");
}

#[tokio::test]
async fn a_return_after_the_window_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &tea, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    wallet_reaches(&app, &chain[0], "pending", "30.00").await;
    quiescent(&app.pool).await;
    sqlx::query("UPDATE orders SET delivered_at = delivered_at - interval '16 days'")
        .execute(&app.pool)
        .await
        .expect("age the delivery");

    let id = order["id"].as_str().unwrap_or_default();
    let ret = json!({"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}]});
    let (status, problem) = app.admin("POST", &format!("/v1/orders/{id}/returns"), Some(&ret)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "lines");
    // A courier saying the same is recorded and refused.
    app.redx(redx_body(&order, "returned", "2026-11-30T10:00:00.000Z"), REDX_TOKEN).await;
    let outcomes = app.outcomes_of("redx").await;
    assert!(outcomes[0].starts_with("refused:lines: the return window of 15 days"), "{outcomes:?}");
    assert_eq!(app.wallet(&chain[0]).await["pending"], "30.00");
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_reversals").fetch_one(&app.pool).await.expect("count");
    assert_eq!(count, 0);
}

#[tokio::test]
async fn an_admin_cancels_an_unshipped_order_and_its_stock_comes_back_but_a_shipped_one_cannot_be_cancelled() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 10).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &tea, 3, "online").await;
    let id = order["id"].as_str().unwrap_or_default();
    let (status, cancelled) = app.admin("POST", &format!("/v1/admin/orders/{id}/cancel"), None).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let tea_id = tea["id"].as_str().unwrap_or_default();
    assert_eq!(app.admin("GET", &format!("/v1/products/{tea_id}"), None).await.1["stock"], 10);
    // Twice is the same answer, and nothing moves twice.
    assert_eq!(app.admin("POST", &format!("/v1/admin/orders/{id}/cancel"), None).await.1["status"], "cancelled");
    assert_eq!(app.admin("GET", &format!("/v1/products/{tea_id}"), None).await.1["stock"], 10);

    let shipped = app.place_order(&chain[1], &tea, 1, "cod").await;
    app.send_event("couriers", &json!({"type": "delivery.shipped", "data": {"invoice_no": shipped["invoice_no"]}}))
        .await;
    quiescent(&app.pool).await;
    let sid = shipped["id"].as_str().unwrap_or_default();
    let (status, problem) = app.admin("POST", &format!("/v1/admin/orders/{sid}/cancel"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "order");
}
