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

/// Places and delivers an order of `quantity` × `product`, spending
/// `store_credit` of the buyer's points.
async fn delivered_spending(app: &TestApp, buyer: &Value, product: &Value, quantity: i64, store_credit: &str) -> Value {
    let mut body = order_body(buyer, product, quantity, "cod");
    body["store_credit"] = json!(store_credit);
    let order = app.place_order_body(&body).await;
    assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);
    quiescent(&app.pool).await;
    order
}

/// Dates an order as placed and confirmed `at`; with `released`, its
/// points' hold ended seven days later (otherwise they stay released now,
/// after the interval).
async fn dated(app: &TestApp, order: &Value, at: &str, released: bool) {
    let at: chrono::DateTime<chrono::Utc> = at.parse().expect("time");
    let id = order["id"].as_str().unwrap_or_default();
    sqlx::query("UPDATE orders SET commissionable_at = $2, created_at = $2 WHERE id = $1::uuid")
        .bind(id)
        .bind(at)
        .execute(&app.pool)
        .await
        .expect("date the order");
    if released {
        sqlx::query("UPDATE order_rewards SET released_at = $2 + interval '7 days' WHERE order_id = $1::uuid")
            .bind(id)
            .bind(at)
            .execute(&app.pool)
            .await
            .expect("date the release");
    }
}

#[tokio::test]
async fn four_months_of_orders_give_an_exact_cohort_table_churn_rate_and_program_return() {
    let app = TestApp::spawn().await;
    app.create_plan(loyalty_plan("credit")).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let soap = app.create_product("SOAP-1", "100.00", "50.00", 100).await;
    let chain = app.create_chain(5).await;
    let (a, b, c, d) = (&chain[1], &chain[2], &chain[3], &chain[4]);
    let none = "0.00";
    // First orders; their 2% points (A 9.00, B 4.00, C 18.00) are released.
    let a1 = delivered_spending(&app, a, &tea, 1, none).await;
    let b1 = delivered_spending(&app, b, &soap, 2, none).await;
    let c1 = delivered_spending(&app, c, &tea, 2, none).await;
    let_days_pass(&app, 8).await;
    wallet_reaches(&app, a, "credit", "9.00").await;
    wallet_reaches(&app, c, "credit", "18.00").await;
    let a2 = delivered_spending(&app, a, &tea, 1, "9.00").await;
    let b2 = delivered_spending(&app, b, &tea, 1, none).await;
    let c2 = delivered_spending(&app, c, &soap, 1, "10.00").await;
    let d1 = delivered_spending(&app, d, &soap, 1, none).await;
    let_days_pass(&app, 8).await;
    wallet_reaches(&app, a, "credit", "9.00").await;
    let a3 = delivered_spending(&app, a, &tea, 1, "5.00").await;
    let a4 = delivered_spending(&app, a, &soap, 1, none).await;
    // The months: A buys in each; B in August and October; C in September
    // and November; D once, in October. A's and C's points were released a
    // week after each order; B's and D's only now.
    for (order, at, released) in [
        (&a1, "2026-08-05T10:00:00Z", true),
        (&a2, "2026-09-10T10:00:00Z", true),
        (&a3, "2026-10-12T10:00:00Z", true),
        (&a4, "2026-11-03T10:00:00Z", true),
        (&b1, "2026-08-20T10:00:00Z", false),
        (&b2, "2026-10-01T10:00:00Z", false),
        (&c1, "2026-09-02T10:00:00Z", true),
        (&c2, "2026-11-15T10:00:00Z", true),
        (&d1, "2026-10-20T10:00:00Z", false),
    ] {
        dated(&app, order, at, released).await;
    }

    let range = "from=2026-08-01&to=2026-12-01&time_zone=UTC";
    let (status, r) = app.admin("GET", &format!("/v1/admin/analytics/cohorts?{range}"), None).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["months"], json!(["2026-08", "2026-09", "2026-10", "2026-11"]));
    assert_eq!(
        r["cohorts"],
        json!([
            {"month": "2026-08", "members": 2, "active": [2, 1, 2, 1], "retention": ["1.0000", "0.5000", "1.0000", "0.5000"]},
            {"month": "2026-09", "members": 1, "active": [1, 0, 1], "retention": ["1.0000", "0.0000", "1.0000"]},
            {"month": "2026-10", "members": 1, "active": [1, 0], "retention": ["1.0000", "0.0000"]}
        ])
    );
    // September: B of A, B stayed away; October: C of A, C; November: B and D of A, B, D.
    assert_eq!(
        r["churn"],
        json!([
            {"month": "2026-09", "active_before": 2, "churned": 1, "rate": "0.5000"},
            {"month": "2026-10", "active_before": 2, "churned": 1, "rate": "0.5000"},
            {"month": "2026-11", "active_before": 3, "churned": 2, "rate": "0.6667"}
        ])
    );
    assert!(r["method"]["churn"].as_str().is_some_and(|m| m.contains("month before")), "{r}");

    let (status, roi) = app.admin("GET", &format!("/v1/admin/analytics/roi?{range}"), None).await;
    assert_eq!(status, StatusCode::OK, "{roi}");
    let month = |i: usize| -> Vec<Value> {
        let m = &roi["months"][i];
        [
            "month",
            "rewarded_members",
            "other_members",
            "rewarded_spend",
            "other_spend",
            "incremental_spend",
            "points_redeemed",
            "cashback",
            "cost",
            "return",
        ]
        .iter()
        .map(|f| m[*f].clone())
        .collect()
    };
    // August: nobody had ordered before it.
    assert_eq!(
        month(0),
        [
            json!("2026-08"),
            json!(0),
            json!(0),
            json!("0.00"),
            json!("0.00"),
            Value::Null,
            json!("0.00"),
            json!("0.00"),
            json!("0.00"),
            Value::Null
        ]
    );
    // September: A (rewarded) spent 450.00, B nothing; A redeemed 9.00: (450 − 9) ÷ 9.
    assert_eq!(
        month(1),
        [
            json!("2026-09"),
            json!(1),
            json!(1),
            json!("450.00"),
            json!("0.00"),
            json!("450.00"),
            json!("9.00"),
            json!("0.00"),
            json!("9.00"),
            json!("49.0000")
        ]
    );
    // October: A and C (rewarded) 450.00 between them, B alone 450.00:
    // (225 − 450) × 2 = −450.00 against 5.00 redeemed.
    assert_eq!(
        month(2),
        [
            json!("2026-10"),
            json!(2),
            json!(1),
            json!("450.00"),
            json!("450.00"),
            json!("-450.00"),
            json!("5.00"),
            json!("0.00"),
            json!("5.00"),
            json!("-91.0000")
        ]
    );
    // November: A and C 100.00 each, B and D nothing; C redeemed 10.00.
    assert_eq!(
        month(3),
        [
            json!("2026-11"),
            json!(2),
            json!(2),
            json!("200.00"),
            json!("0.00"),
            json!("200.00"),
            json!("10.00"),
            json!("0.00"),
            json!("10.00"),
            json!("19.0000")
        ]
    );

    let csv = |what: &str| {
        let url = format!("{}/v1/admin/analytics/{what}?{range}&format=csv", app.base);
        let request = app.http.get(url).bearer_auth(&app.admin_token).send();
        async move { request.await.expect("csv").text().await.expect("text") }
    };
    let text = csv("roi").await;
    assert!(text.lines().any(|l| l.ends_with(",2026-10,2,1,450.00,450.00,-450.00,5.00,0.00,5.00,-91.0000")), "{text}");
    let text = csv("cohorts").await;
    assert!(text.lines().any(|l| l.ends_with(",2026-08,2,2026-10,2,1.0000")), "{text}");
    assert!(text.lines().any(|l| l.ends_with(",churn,3,2026-11,2,0.6667")), "{text}");
}
