//! Loyalty analytics on a scenario of our own across three months: three
//! buyers' orders confirmed on set days (the facts' times moved, as if the
//! months had passed), points earned and one redemption; every figure
//! exact, as JSON and as CSV.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Delivers `quantity` of `product` to `buyer` and dates its confirmation `at`.
async fn confirmed_on(app: &TestApp, buyer: &Value, product: &Value, quantity: i64, at: &str) -> Value {
    let order = app.place_order(buyer, product, quantity, "cod").await;
    assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);
    quiescent(&app.pool).await;
    let at: chrono::DateTime<chrono::Utc> = at.parse().expect("time");
    sqlx::query("UPDATE orders SET commissionable_at = $2 WHERE id = $1::uuid")
        .bind(order["id"].as_str().unwrap_or_default())
        .bind(at)
        .execute(&app.pool)
        .await
        .expect("date the confirmation");
    order
}

#[tokio::test]
async fn three_months_of_orders_give_exact_lifetime_values_points_churn_verdicts_and_segments() {
    let app = TestApp::spawn().await;
    app.create_plan(loyalty_plan("credit")).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let soap = app.create_product("SOAP-1", "100.00", "50.00", 100).await;
    let chain = app.create_chain(4).await;
    let (a, b, c) = (&chain[1], &chain[2], &chain[3]);
    // A: every 20 days, last on 11 October; B: 60 days apart; C: once.
    confirmed_on(&app, a, &tea, 1, "2026-09-01T10:00:00Z").await;
    confirmed_on(&app, a, &tea, 1, "2026-09-21T10:00:00Z").await;
    confirmed_on(&app, a, &soap, 1, "2026-10-11T10:00:00Z").await;
    confirmed_on(&app, b, &tea, 2, "2026-09-15T10:00:00Z").await;
    confirmed_on(&app, b, &tea, 1, "2026-11-14T10:00:00Z").await;
    confirmed_on(&app, c, &soap, 2, "2026-11-20T10:00:00Z").await;
    // C's 4.00 points are released, and 3.00 of them spent on an order not
    // yet delivered (so not counted as an order).
    let_days_pass(&app, 8).await;
    wallet_reaches(&app, c, "credit", "4.00").await;
    let mut body = order_body(c, &soap, 1, "cod");
    body["store_credit"] = json!("3.00");
    let (status, spent) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", "c-spends")])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{spent}");
    quiescent(&app.pool).await;

    let path = "/v1/admin/analytics/members?from=2026-09-01&to=2026-12-01&time_zone=UTC";
    let (status, report) = app.admin("GET", path, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let figures = |m: &Value| -> Vec<Value> {
        [
            "orders",
            "spend",
            "average_order_value",
            "first_order_at",
            "last_order_at",
            "days_since_last_order",
            "usual_interval_days",
            "predicted_value",
            "points_earned",
            "points_redeemed",
            "points_expired",
            "redemption_rate",
            "rfm",
            "segment",
        ]
        .iter()
        .map(|f| m[*f].clone())
        .collect()
    };
    let of = |member: &Value| {
        report["members"].as_array().and_then(|ms| ms.iter().find(|m| m["member_id"] == member["id"]).cloned())
    };
    assert_eq!(report["members"].as_array().map(Vec::len), Some(3), "the root bought nothing: {report}");
    // 450 + 450 + 100 over three orders 20 days apart; 50 days 14 hours
    // since the last is more than twice 20: at risk. Predicted: 333.33 ×
    // 365 ÷ 20. Points at 2%: 9.00 + 9.00 + 2.00.
    assert_eq!(
        figures(&of(a).expect("A")),
        vec![
            json!(3),
            json!("1000.00"),
            json!("333.33"),
            json!("2026-09-01T10:00:00Z"),
            json!("2026-10-11T10:00:00Z"),
            json!("50.58"),
            json!("20.00"),
            json!("6083.27"),
            json!("20.00"),
            json!("0.00"),
            json!("0.00"),
            json!("0.0000"),
            json!([1, 3, 2]),
            json!("at_risk"),
        ]
    );
    // 900 + 450, 60 days apart, 16 days 14 hours since: active; 675.00 ×
    // 365 ÷ 60. Points: 18.00 + 9.00 (900.00 of earlier spend is short of silver).
    assert_eq!(
        figures(&of(b).expect("B")),
        vec![
            json!(2),
            json!("1350.00"),
            json!("675.00"),
            json!("2026-09-15T10:00:00Z"),
            json!("2026-11-14T10:00:00Z"),
            json!("16.58"),
            json!("60.00"),
            json!("4106.25"),
            json!("27.00"),
            json!("0.00"),
            json!("0.00"),
            json!("0.0000"),
            json!([2, 2, 3]),
            json!("active"),
        ]
    );
    // One order: judged and predicted by the mean interval (20 + 60) ÷ 2 =
    // 40: 200.00 × 365 ÷ 40; 3.00 of 4.00 points redeemed.
    assert_eq!(
        figures(&of(c).expect("C")),
        vec![
            json!(1),
            json!("200.00"),
            json!("200.00"),
            json!("2026-11-20T10:00:00Z"),
            json!("2026-11-20T10:00:00Z"),
            json!("10.58"),
            json!(null),
            json!("1825.00"),
            json!("4.00"),
            json!("3.00"),
            json!("0.00"),
            json!("0.7500"),
            json!([3, 1, 1]),
            json!("new"),
        ]
    );
    let t = &report["totals"];
    assert_eq!(
        [&t["members"], &t["orders"], &t["spend"], &t["average_order_value"], &t["orders_per_member"]],
        [&json!(3), &json!(6), &json!("2550.00"), &json!("425.00"), &json!("2.00")]
    );
    assert_eq!(
        [&t["mean_interval_days"], &t["predicted_value"], &t["points_earned"], &t["points_redeemed"]],
        [&json!("40.00"), &json!("12014.52"), &json!("51.00"), &json!("3.00")]
    );
    assert_eq!(t["redemption_rate"], "0.0588");
    assert_eq!(t["segments"], json!({"new": 1, "active": 1, "at_risk": 1, "lapsed": 0, "champion": 0}));
    assert!(report["method"]["prediction"].as_str().is_some_and(|m| m.contains("horizon days")), "{report}");

    // The same members as CSV; a bad horizon is refused by name.
    let response = app
        .http
        .get(format!("{}{path}&format=csv&horizon_days=730", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("csv");
    let csv = response.text().await.expect("text");
    let a_row = csv.lines().find(|l| l.contains(a["id"].as_str().unwrap_or("-"))).unwrap_or_default().to_owned();
    assert!(a_row.ends_with(",3,1000.00,333.33,2026-09-01T10:00:00+00:00,2026-10-11T10:00:00+00:00,50.58,20.00,12166.55,20.00,0.00,0.00,0.0000,1,3,2,at_risk"), "{a_row}");
    let (status, problem) = app.admin("GET", &format!("{path}&horizon_days=0"), None).await;
    assert_eq!((status, &problem["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("horizon_days")));
}
