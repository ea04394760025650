//! Each provider adapter with its real request format: accepted when
//! authentic, 401 and nothing stored when forged, a replay changes nothing;
//! gateways' unsigned hints are confirmed through their server API (the
//! local stand-in) and compared with OUR order.

use haat_tests::providers::*;
use haat_tests::standin::SSL_STORE_PASSWORD;
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn status_of(app: &TestApp, order: &Value) -> String {
    let id = order["id"].as_str().unwrap_or_default();
    app.admin("GET", &format!("/v1/orders/{id}"), None).await.1["status"].as_str().unwrap_or_default().to_owned()
}

fn ipn(order: &Value, val_id: &str, password: &str) -> String {
    let fields = valid_ipn_fields(order, val_id);
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sslcommerz_ipn(&refs, password)
}

#[tokio::test]
async fn steadfast_is_accepted_with_its_bearer_token_refused_without_and_a_replay_changes_nothing() {
    let app = TestApp::spawn().await;
    let (chain, order) = two_members_and_an_order(&app, "cod").await;
    let body = steadfast_body(&order, "delivered", "2026-11-22 12:45:30");
    assert_eq!(app.steadfast(body.clone(), "wrong-token-of-same-size").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.steadfast(body.clone(), "").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.events_of("steadfast").await, 0);
    for _ in 0..3 {
        assert_eq!(app.steadfast(body.clone(), STEADFAST_TOKEN).await.0, StatusCode::OK);
    }
    wallet_reaches(&app, &chain[0], "pending", "30.00").await;
    assert_eq!(app.outcomes_of("steadfast").await, ["applied"]);
    // Approval-pending and unknown statuses are stored and shown to admins.
    app.steadfast(steadfast_body(&order, "in_review", "2026-11-22 13:00:00"), STEADFAST_TOKEN).await;
    app.steadfast(steadfast_body(&order, "Teleported", "2026-11-22 14:00:00"), STEADFAST_TOKEN).await;
    assert_eq!(app.outcomes_of("steadfast").await, ["applied", "recorded:in_review", "unknown_status:teleported"]);
    let (status, listed) =
        app.admin("GET", "/v1/admin/webhook-events?provider=steadfast&outcome=unknown_status", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.wallet(&chain[0]).await["pending"], "30.00");
}

#[tokio::test]
async fn pathao_answers_its_handshake_and_refuses_events_without_the_shared_secret() {
    let app = TestApp::spawn().await;
    let (chain, order) = two_members_and_an_order(&app, "cod").await;
    let (status, headers) = app.pathao(json!({"event": "webhook_integration"}).to_string(), "").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(headers["x-pathao-merchant-webhook-integration-secret"], PATHAO_INTEGRATION);

    let body = pathao_body(&order, "order.delivered", "2026-11-22T10:00:00+00:00");
    assert_eq!(app.pathao(body.clone(), "test-pathao-secret-9d2f").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.events_of("pathao").await, 0);
    assert_eq!(app.pathao(body.clone(), PATHAO_SECRET).await.0, StatusCode::ACCEPTED);
    assert_eq!(app.pathao(body, PATHAO_SECRET).await.0, StatusCode::ACCEPTED);
    wallet_reaches(&app, &chain[0], "pending", "30.00").await;
    assert_eq!(app.outcomes_of("pathao").await, ["applied"]);
    assert_eq!(status_of(&app, &order).await, "delivered");
}

#[tokio::test]
async fn redx_needs_the_token_in_our_callback_url() {
    let app = TestApp::spawn().await;
    let (chain, order) = two_members_and_an_order(&app, "cod").await;
    let body = redx_body(&order, "delivered", "2026-11-22T10:00:00.000Z");
    assert_eq!(app.redx(body.clone(), "test-redx-token-3b8b").await, StatusCode::UNAUTHORIZED);
    let no_token = app.provider_post("/v1/webhooks/couriers/redx", "application/json", body.clone(), &[]).await.0;
    assert_eq!(no_token, StatusCode::UNAUTHORIZED);
    assert_eq!(app.events_of("redx").await, 0);
    assert_eq!(app.redx(body.clone(), REDX_TOKEN).await, StatusCode::OK);
    assert_eq!(app.redx(body, REDX_TOKEN).await, StatusCode::OK);
    wallet_reaches(&app, &chain[0], "pending", "30.00").await;
    assert_eq!(app.outcomes_of("redx").await, ["applied"]);
}

#[tokio::test]
async fn an_sslcommerz_ipn_is_verified_then_confirmed_by_the_validation_api_before_the_order_is_paid() {
    let app = TestApp::spawn().await;
    let (_, order) = two_members_and_an_order(&app, "online").await;
    app.standin.register_validation("VAL-1", validation_answer(&order, "VAL-1", "450.00"));

    assert_eq!(app.sslcommerz(ipn(&order, "VAL-1", "not-the-store-password")).await, StatusCode::UNAUTHORIZED);
    let mut tampered = ipn(&order, "VAL-1", SSL_STORE_PASSWORD);
    tampered = tampered.replace("amount=450.00", "amount=45.00");
    assert_eq!(app.sslcommerz(tampered).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.events_of("sslcommerz").await, 0);

    let good = ipn(&order, "VAL-1", SSL_STORE_PASSWORD);
    assert_eq!(app.sslcommerz(good.clone()).await, StatusCode::OK);
    assert_eq!(app.sslcommerz(good).await, StatusCode::OK);
    assert_eq!(app.outcomes_of("sslcommerz").await, ["applied"]);
    assert_eq!(app.standin.calls("validation"), 1);
    assert_eq!(status_of(&app, &order).await, "paid");
}

#[tokio::test]
async fn an_sslcommerz_payment_whose_validated_amount_differs_from_the_order_is_flagged_and_not_applied() {
    let app = TestApp::spawn().await;
    let (_, order) = two_members_and_an_order(&app, "online").await;
    // The IPN claims the full amount; the gateway's own record says 45.00.
    app.standin.register_validation("VAL-2", validation_answer(&order, "VAL-2", "45.00"));
    assert_eq!(app.sslcommerz(ipn(&order, "VAL-2", SSL_STORE_PASSWORD)).await, StatusCode::OK);
    assert_eq!(app.outcomes_of("sslcommerz").await, ["flagged:amount_mismatch"]);
    assert_eq!(status_of(&app, &order).await, "pending_payment");
    let (_, listed) = app.admin("GET", "/v1/admin/webhook-events?outcome=flagged", None).await;
    assert_eq!(listed["items"][0]["confirmation"]["amount"], "45.00");
}

#[tokio::test]
async fn a_bkash_callback_only_counts_once_bkash_confirms_the_payment() {
    let app = TestApp::spawn().await;
    let (_, order) = two_members_and_an_order(&app, "online").await;
    app.standin.register_payment(
        "TR0011ABC",
        json!({"statusCode": "0000", "statusMessage": "Successful", "paymentID": "TR0011ABC",
               "payerReference": "01770618575", "customerMsisdn": "01770618575", "trxID": "BFD90JRLST",
               "amount": "450", "transactionStatus": "Completed", "paymentExecuteTime": "2026-11-22T10:00:00:000 GMT+0600",
               "currency": "BDT", "intent": "sale", "merchantInvoiceNumber": order["invoice_no"]}),
    );
    // A forged callback for a payment bKash does not know pays nothing.
    assert_eq!(app.bkash_callback("TR00FORGED", "success").await, StatusCode::OK);
    assert_eq!(app.outcomes_of("bkash").await, ["flagged:no_invoice"]);
    assert_eq!(status_of(&app, &order).await, "pending_payment");

    assert_eq!(app.bkash_callback("TR0011ABC", "success").await, StatusCode::OK);
    assert_eq!(app.bkash_callback("TR0011ABC", "success").await, StatusCode::OK);
    assert_eq!(app.outcomes_of("bkash").await, ["flagged:no_invoice", "applied"]);
    assert_eq!(app.standin.calls("execute"), 2);
    assert_eq!(status_of(&app, &order).await, "paid");
}

#[tokio::test]
async fn a_confirmation_that_fails_twice_runs_three_times_with_growing_delays_and_marks_the_order_paid_once() {
    let mut app = TestApp::spawn().await;
    assert!(app.terminate_worker(0).await.success());
    // The first retry waits 300 ms in process; the second (600 ms and up)
    // is scheduled in the job table.
    app.set_worker_env("HAAT_RETRY_FIRST_MS", "300");
    app.set_worker_env("HAAT_RETRY_IN_PROCESS_MS", "300");
    app.set_worker_env("HAAT_LOG_FORMAT", "json");
    app.start_worker().await;
    let (_, order) = two_members_and_an_order(&app, "online").await;
    app.standin.register_validation("VAL-3", validation_answer(&order, "VAL-3", "450.00"));
    app.standin.fail_next("validation", 2);

    assert_eq!(app.sslcommerz(ipn(&order, "VAL-3", SSL_STORE_PASSWORD)).await, StatusCode::OK);
    eventually("the order is paid", || async { (status_of(&app, &order).await == "paid").then_some(()) }).await;
    quiescent(&app.pool).await;

    assert_eq!(status_of(&app, &order).await, "paid");
    assert_eq!(app.outcomes_of("sslcommerz").await, ["applied"]);
    let calls = app.standin.call_times("validation");
    assert_eq!(calls.len(), 3, "two failures, then the answer");
    let (first_wait, second_wait) = (calls[1] - calls[0], calls[2] - calls[1]);
    assert!(first_wait.as_millis() >= 300 && second_wait.as_millis() >= 600, "{first_wait:?} {second_wait:?}");
    assert!(second_wait > first_wait, "{first_wait:?} {second_wait:?}");
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM apalis.jobs WHERE job_type = 'haat.confirmations'")
            .fetch_one(&app.pool)
            .await
            .expect("the confirmation job");
    assert_eq!((status.as_str(), attempts), ("Done", 3));
    let key = format!("confirm_payment:{}", event_id(&app).await);
    let log: Vec<String> = app
        .job_log(1, &key)
        .iter()
        .filter(|l| l["level"] == "WARN")
        .map(|l| format!("{} {}", l["span"]["attempt"], l["message"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        log,
        ["1 job failed; it runs again in this worker shortly", "2 job failed; its next attempt is scheduled"]
    );
    let paid: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_history WHERE order_id = $1::uuid AND status = 'paid'")
            .bind(order["id"].as_str())
            .fetch_one(&app.pool)
            .await
            .expect("history");
    assert_eq!(paid, 1, "paid once");
    // The gateway's store password (in the failing request's address) is never logged.
    assert!(!app.worker_log(1).contains(SSL_STORE_PASSWORD), "a secret in the log");
}

/// The one SSLCommerz event of the test.
async fn event_id(app: &TestApp) -> uuid::Uuid {
    sqlx::query_scalar("SELECT id FROM webhook_events WHERE provider = 'sslcommerz'")
        .fetch_one(&app.pool)
        .await
        .expect("the stored IPN")
}
