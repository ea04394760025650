//! Webhooks: authentication, deduplication, out-of-order facts.

use chrono::Utc;
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::Value;

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.expect("count")
}

async fn commissions_of(app: &TestApp, order: &Value) -> Vec<(String, String)> {
    let order_id: uuid::Uuid = order["id"].as_str().and_then(|s| s.parse().ok()).expect("order id");
    sqlx::query_as::<_, (String, String)>(
        "SELECT beneficiary_id::text, amount::text FROM commissions WHERE order_id = $1 ORDER BY beneficiary_id",
    )
    .bind(order_id)
    .fetch_all(&app.pool)
    .await
    .expect("commissions")
}

#[tokio::test]
async fn the_same_webhook_sent_five_times_sequentially_and_concurrently_credits_once() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(3).await;
    let order = app.place_order(&chain[2], &tea, 2, "online").await;

    let paid = paid_event(&order).to_string();
    let now = Utc::now().timestamp();
    for _ in 0..5 {
        assert_eq!(app.webhook_signed("payments", "msg_paid_1", now, &paid).await, StatusCode::OK);
    }
    let delivered = delivered_event(&order).to_string();
    let sends = (0..5).map(|_| app.webhook_signed("couriers", "msg_delivered_1", now, &delivered));
    for status in futures::future::join_all(sends).await {
        assert_eq!(status, StatusCode::OK);
    }
    // The same fact under a new event id is a duplicate at the order.
    assert_eq!(app.send_event("payments", &paid_event(&order)).await.0, StatusCode::OK);

    wallet_reaches(&app, &chain[1], "pending", "60.00").await;
    quiescent(&app.pool).await;
    assert_eq!(count(&app, "SELECT count(*) FROM webhook_events").await, 3);
    assert_eq!(count(&app, "SELECT count(*) FROM commissions").await, 2);
    assert_eq!(app.wallet(&chain[1]).await["pending"], "60.00");
    assert_eq!(app.wallet(&chain[0]).await["pending"], "30.00");
    // Workers take events concurrently, so which of the two `paid` events
    // wins, and whether `delivered` waited for payment, varies; that exactly
    // one of them changed nothing does not.
    let mut outcomes: Vec<String> =
        sqlx::query_scalar("SELECT outcome FROM webhook_events").fetch_all(&app.pool).await.expect("outcomes");
    outcomes.sort();
    assert!(
        outcomes == ["applied", "applied", "duplicate"] || outcomes == ["applied", "duplicate", "held"],
        "{outcomes:?}"
    );
    assert_eq!(ledger_totals(&app.pool).await, (rust_decimal::Decimal::ZERO, 0));
}

#[tokio::test]
async fn delivered_arriving_before_paid_ends_in_the_same_ledger_as_the_right_order() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(4).await;
    let in_order = app.place_order(&chain[3], &tea, 2, "online").await;
    let reversed = app.place_order(&chain[3], &tea, 2, "online").await;

    app.send_event("payments", &paid_event(&in_order)).await;
    app.send_event("couriers", &delivered_event(&in_order)).await;
    let (status, _) = app.send_event("couriers", &delivered_event(&reversed)).await;
    assert_eq!(status, StatusCode::OK);
    quiescent(&app.pool).await;
    // Delivered without payment: held, not yet commissionable.
    assert!(commissions_of(&app, &reversed).await.is_empty());
    let id = reversed["id"].as_str().unwrap_or_default();
    assert_eq!(app.admin("GET", &format!("/v1/orders/{id}"), None).await.1["status"], "pending_payment");
    app.send_event("payments", &paid_event(&reversed)).await;

    wallet_reaches(&app, &chain[2], "pending", "120.00").await;
    quiescent(&app.pool).await;
    let a = commissions_of(&app, &in_order).await;
    let b = commissions_of(&app, &reversed).await;
    assert_eq!(a.len(), 3);
    assert_eq!(a, b);
    let (_, o) = app.admin("GET", &format!("/v1/orders/{id}"), None).await;
    assert_eq!(o["status"], "delivered");
    assert_eq!(ledger_totals(&app.pool).await, (rust_decimal::Decimal::ZERO, 0));
}

#[tokio::test]
async fn a_bad_or_missing_signature_or_a_stale_timestamp_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let body = r#"{"type":"payment.succeeded","data":{"invoice_no":"INV-000001","amount":"1.00","currency":"BDT"}}"#;
    let now = Utc::now().timestamp();
    let good = app.secret.sign("msg_1", now, body.as_bytes());
    let other =
        haat_domain::integrations::webhooks::WebhookSecret::parse("whsec_b3RoZXItc2VjcmV0LW9mLWVub3VnaC1sZW5ndGg=")
            .expect("secret");
    let forged = other.sign("msg_1", now, body.as_bytes());
    let ts = now.to_string();
    for (sig, stamp) in [
        (forged.as_str(), ts.as_str()),
        ("v1,", ts.as_str()),
        ("", ts.as_str()),
        (&good[..good.len() - 4], ts.as_str()),
        (good.as_str(), "not-a-number"),
    ] {
        assert_eq!(
            app.webhook_raw("payments", "msg_1", stamp, sig, body).await,
            StatusCode::UNAUTHORIZED,
            "sig {sig:?}"
        );
    }
    assert_eq!(
        app.webhook_raw("payments", "msg_1", &ts, &good, &body.replace("1.00", "9.00")).await,
        StatusCode::UNAUTHORIZED
    );
    // Just past the 300 s tolerance either way, from the clock at the
    // moment of sending. Ahead, one second more: the api reads its clock in
    // whole seconds after ours, and a tick in between would bring +301 back
    // to +300 (inside the tolerance) — the past side only grows with time.
    for skew in [-301, 302] {
        let stale = Utc::now().timestamp() + skew;
        let sig = app.secret.sign("msg_1", stale, body.as_bytes());
        assert_eq!(
            app.webhook_raw("payments", "msg_1", &stale.to_string(), &sig, body).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let missing = app
        .http
        .post(format!("{}/v1/webhooks/payments/generic", app.base))
        .body(body)
        .send()
        .await
        .expect("send")
        .status();
    assert_eq!(missing, StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app, "SELECT count(*) FROM webhook_events").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.webhooks'").await, 0);
    // The genuine one is accepted.
    assert_eq!(app.webhook_raw("payments", "msg_1", &ts, &good, body).await, StatusCode::OK);
    assert_eq!(count(&app, "SELECT count(*) FROM webhook_events").await, 1);
}
