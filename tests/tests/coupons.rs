//! Checkout pricing: coupons (the use limit holds under concurrent orders;
//! window, minimum subtotal and kinds as documented), flash sales, and store
//! credit spent at checkout and given back.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn coupon(code: &str, kind: &str, value: &str, max_uses: Option<i32>) -> Value {
    json!({"code": code, "kind": kind, "value": value, "starts_at": "2026-01-01T00:00:00Z",
           "ends_at": "2030-01-01T00:00:00Z", "max_uses": max_uses, "min_subtotal": "400.00"})
}

async fn order_with(app: &TestApp, buyer: &Value, product: &Value, quantity: i64, code: &str) -> (StatusCode, Value) {
    let mut body = order_body(buyer, product, quantity, "cod");
    body["coupon_code"] = json!(code);
    let key = uuid::Uuid::new_v4().to_string();
    app.call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", &key)]).await
}

#[tokio::test]
async fn a_coupon_with_ten_uses_is_used_exactly_ten_times_by_fifty_concurrent_orders() {
    let app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(1).await[0];
    let (status, c) =
        app.admin("POST", "/v1/admin/coupons", Some(&coupon("launch10", "percent", "0.10", Some(10)))).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["code"], "LAUNCH10");

    let results = futures::future::join_all((0..50).map(|_| order_with(&app, buyer, &tea, 1, "Launch10"))).await;
    let placed: Vec<&Value> = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, o)| o).collect();
    let refused: Vec<&Value> =
        results.iter().filter(|(s, _)| *s == StatusCode::UNPROCESSABLE_ENTITY).map(|(_, p)| p).collect();
    let statuses: Vec<_> = results.iter().map(|(s, b)| format!("{s} {b}")).collect();
    assert_eq!((placed.len(), refused.len()), (10, 40), "{statuses:#?}");
    for o in &placed {
        assert_eq!((o["discount"].as_str(), o["total"].as_str()), (Some("45.00"), Some("405.00")));
        assert_eq!(o["coupon_id"], c["id"]);
    }
    for p in &refused {
        assert_eq!(p["errors"][0]["field"], "coupon_code");
        assert_eq!(p["errors"][0]["message"], "the coupon has been used up");
    }
    let (_, list) = app.admin("GET", "/v1/admin/coupons", None).await;
    assert_eq!(list["items"][0]["uses"], 10);
    let (_, product) =
        app.admin("GET", &format!("/v1/products/{}", tea["id"].as_str().unwrap_or_default()), None).await;
    assert_eq!(product["stock"], 90, "refused orders took no stock");
}

#[tokio::test]
async fn a_coupon_applies_only_in_its_window_and_above_its_minimum_and_a_fixed_one_never_exceeds_the_subtotal() {
    let app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(1).await[0];
    for body in [coupon("FLAT500", "fixed", "500.00", None), coupon("TEN", "percent", "0.10", None)] {
        assert_eq!(app.admin("POST", "/v1/admin/coupons", Some(&body)).await.0, StatusCode::CREATED);
    }
    let mut later = coupon("LATER", "percent", "0.10", None);
    later["starts_at"] = json!("2029-01-01T00:00:00Z");
    assert_eq!(app.admin("POST", "/v1/admin/coupons", Some(&later)).await.0, StatusCode::CREATED);

    let (status, o) = order_with(&app, buyer, &tea, 1, "flat500").await;
    assert_eq!(status, StatusCode::CREATED, "{o}");
    assert_eq!(
        (o["discount"].as_str(), o["total"].as_str(), o["bv"].as_str()),
        (Some("450.00"), Some("0.00"), Some("300.00"))
    );
    let (_, o) = order_with(&app, buyer, &tea, 3, "TEN").await;
    assert_eq!((o["subtotal"].as_str(), o["discount"].as_str()), (Some("1350.00"), Some("135.00")));

    let refusals = [("NOSUCH", 1, "no such coupon"), ("LATER", 1, "the coupon is not valid now")];
    for (code, quantity, message) in refusals {
        let (status, p) = order_with(&app, buyer, &tea, quantity, code).await;
        assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("coupon_code")));
        assert_eq!(p["errors"][0]["message"], message);
    }
    let cheap = app.create_product("SOAP-1", "100.00", "50.00", 10).await;
    let (status, p) = order_with(&app, buyer, &cheap, 1, "TEN").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["errors"][0]["message"], "the coupon needs a subtotal of at least 400.00");

    let (status, p) = app.admin("POST", "/v1/admin/coupons", Some(&coupon("TEN", "percent", "0.20", None))).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::CONFLICT, Some("code")));
    let (status, p) = app.admin("POST", "/v1/admin/coupons", Some(&coupon("ODD", "bogo", "1", None))).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("kind")));
}

#[tokio::test]
async fn a_running_flash_sale_sets_the_line_price_and_leaves_the_volume() {
    let app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(1).await[0];
    let now = chrono::Utc::now();
    let sale = |price: &str, from: chrono::Duration, to: chrono::Duration| {
        json!({"product_id": tea["id"], "price": price, "starts_at": (now + from).to_rfc3339(),
               "ends_at": (now + to).to_rfc3339()})
    };
    let hour = chrono::Duration::hours(1);
    for body in [sale("399.00", -hour, hour), sale("380.00", -hour, hour), sale("100.00", hour, hour * 2)] {
        let (status, s) = app.admin("POST", "/v1/admin/flash-sales", Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
    }
    let order = app.place_order(buyer, &tea, 2, "cod").await;
    let line = &order["lines"][0];
    // The lowest running price; the one that starts in an hour does not apply.
    assert_eq!((line["unit_price"].as_str(), line["line_total"].as_str()), (Some("380.00"), Some("760.00")));
    assert_eq!(
        (order["total"].as_str(), order["bv"].as_str(), order["pv"].as_str()),
        (Some("760.00"), Some("600.00"), Some("40.00"))
    );

    let (status, p) = app.admin("POST", "/v1/admin/flash-sales", Some(&sale("10.00", hour, -hour))).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("ends_at")));
    let mut unknown = sale("10.00", -hour, hour);
    unknown["product_id"] = json!(uuid::Uuid::new_v4());
    let (status, p) = app.admin("POST", "/v1/admin/flash-sales", Some(&unknown)).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("product_id")));
}

/// Gives `member` store credit through the ledger (as a reward would).
async fn give_credit(app: &TestApp, member: &Value, amount: &str) {
    use haat_domain::ledger::{self, Account, Entry, MemberAccount, Posting, SystemAccount};
    let member_id: uuid::Uuid = member["id"].as_str().unwrap_or_default().parse().expect("member id");
    let amount: rust_decimal::Decimal = amount.parse().expect("amount");
    let mut tx = app.pool.begin().await.expect("tx");
    let postings = vec![
        Posting { account: Account::System(SystemAccount::BonusExpense), amount: -amount },
        Posting { account: Account::Member(member_id, MemberAccount::Credit), amount },
    ];
    let key = format!("test_credit:{member_id}");
    ledger::post(
        &mut tx,
        "BDT",
        Entry { idempotency_key: &key, kind: ledger::EntryKind::Bonus, reference: "test", postings },
    )
    .await
    .expect("credit posted");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn store_credit_spent_at_checkout_comes_back_when_the_order_is_refunded_and_a_short_balance_is_refused() {
    let app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(1).await[0];
    give_credit(&app, buyer, "100.00").await;

    let mut body = order_body(buyer, &tea, 1, "online");
    body["store_credit"] = json!("100.01");
    let key = uuid::Uuid::new_v4().to_string();
    let (status, p) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", &key)])
        .await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("store_credit")));

    body["store_credit"] = json!("100.00");
    let key = uuid::Uuid::new_v4().to_string();
    let (status, order) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", &key)])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!((order["store_credit"].as_str(), order["total"].as_str()), (Some("100.00"), Some("350.00")));
    assert_eq!(app.wallet(buyer).await["credit"], "0.00");

    assert_eq!(app.send_event("payments", &paid_event(&order)).await.0, StatusCode::OK);
    quiescent(&app.pool).await;
    let refund = json!({"type": "payment.refunded", "data": {"invoice_no": order["invoice_no"], "refund_id": "RF-1"}});
    assert_eq!(app.send_event("payments", &refund).await.0, StatusCode::OK);
    wallet_reaches(&app, buyer, "credit", "100.00").await;
    // The same refund again (a new event id) gives nothing more.
    assert_eq!(app.send_event("payments", &refund).await.0, StatusCode::OK);
    quiescent(&app.pool).await;
    assert_eq!(app.wallet(buyer).await["credit"], "100.00");
    let (_, o) = app.admin("GET", &format!("/v1/orders/{}", order["id"].as_str().unwrap_or_default()), None).await;
    assert_eq!(o["status"], "refunded");
    assert_eq!(ledger_totals(&app.pool).await, (rust_decimal::Decimal::ZERO, 0));
}
