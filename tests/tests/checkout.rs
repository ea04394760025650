//! Payment sessions opened by haat at the gateways (their stand-in): once
//! under concurrent requests, at OUR order's amount, asked again when the
//! gateway is slower than our timeout with no transaction held meanwhile,
//! and through SSLCommerz's IPN and validation to a paid order.

use std::time::Duration;

use haat_tests::providers::{sslcommerz_ipn, valid_ipn_fields};
use haat_tests::standin::SSL_STORE_PASSWORD;
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const RETURN_URL: &str = "https://shop.example.com/checkout/return";

/// `POST /v1/orders/{id}/payments` with the storefront's (admin) key.
async fn pay(app: &TestApp, order: &Value, body: &Value, key: &str) -> (StatusCode, Value) {
    let path = format!("/v1/orders/{}/payments", order["id"].as_str().unwrap_or_default());
    app.call_with("POST", &path, &app.admin_token, Some(body.to_string()), &[("idempotency-key", key)]).await
}

async fn attempts(app: &TestApp, order: &Value) -> Vec<Value> {
    let path = format!("/v1/orders/{}/payments", order["id"].as_str().unwrap_or_default());
    let (status, list) = app.admin("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"].as_array().cloned().unwrap_or_default()
}

fn sslcommerz() -> Value {
    json!({"provider": "sslcommerz", "return_url": RETURN_URL})
}

#[tokio::test]
async fn concurrent_requests_for_one_order_open_one_session_at_the_orders_own_amount() {
    let app = TestApp::spawn().await;
    let (chain, order) = two_members_and_an_order(&app, "online").await;
    // The gateway takes a moment, so the requests overlap.
    app.standin.delay_next("session", Duration::from_millis(700));
    let answers = futures::future::join_all((0..6).map(|i| {
        let (app, order) = (&app, &order);
        async move { pay(app, order, &sslcommerz(), &format!("checkout-{i}")).await }
    }))
    .await;
    let first = &answers[0].1;
    for (status, attempt) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{attempt}");
        assert_eq!(attempt["id"], first["id"]);
        assert_eq!(attempt["redirect_url"], first["redirect_url"]);
        assert_eq!(attempt["status"], "open");
    }
    assert_eq!(app.standin.calls("session"), 1, "one session asked of the gateway");
    let invoice = order["invoice_no"].as_str().unwrap_or_default();
    assert_eq!(first["redirect_url"], format!("{}/EasyCheckOut/SK0001{invoice}", app.standin.base));
    assert_eq!(first["amount"], "450.00");

    let form = &app.standin.session_forms()[0];
    assert_eq!(form["total_amount"], "450.00");
    assert_eq!(form["currency"], "BDT");
    assert_eq!(form["tran_id"], invoice);
    assert_eq!(form["cus_email"], chain[1]["email"].as_str().unwrap_or_default());
    assert_eq!(form["cus_phone"], "+8801711000000");
    assert_eq!(form["product_name"], "TEA-500");
    assert_eq!(form["value_a"], first["id"].as_str().unwrap_or_default());
    assert_eq!(form["success_url"], RETURN_URL);
    assert!(form["ipn_url"].ends_with("/v1/webhooks/payments/sslcommerz"), "{}", form["ipn_url"]);

    // The same key answers the same attempt; a later call finds it open.
    assert_eq!(pay(&app, &order, &sslcommerz(), "checkout-3").await.1, answers[3].1);
    assert_eq!(pay(&app, &order, &sslcommerz(), "checkout-later").await.1["id"], first["id"]);
    assert_eq!(app.standin.calls("session"), 1);
    assert_eq!(attempts(&app, &order).await.len(), 1);
}

#[tokio::test]
async fn a_payment_names_no_amount_of_its_own_and_a_cod_order_has_none() {
    let app = TestApp::spawn().await;
    let (chain, order) = two_members_and_an_order(&app, "online").await;
    let with_amount = json!({"provider": "sslcommerz", "return_url": RETURN_URL, "amount": "1.00"});
    let (status, problem) = pay(&app, &order, &with_amount, "k1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "amount");
    let (status, problem) = pay(&app, &order, &json!({"provider": "paypal", "return_url": RETURN_URL}), "k2").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "provider");
    let (status, problem) =
        pay(&app, &order, &json!({"provider": "bkash", "return_url": "javascript:alert(1)"}), "k3").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "return_url");
    assert!(attempts(&app, &order).await.is_empty());
    assert_eq!(app.standin.calls("session") + app.standin.calls("create"), 0);

    let tea = app.create_product("TEA-COD", "450.00", "300.00", 10).await;
    let cod = app.place_order(&chain[1], &tea, 1, "cod").await;
    let (status, problem) = pay(&app, &cod, &sslcommerz(), "k4").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "order");
}

#[tokio::test]
async fn a_gateway_slower_than_our_timeout_is_asked_again_with_no_transaction_held_meanwhile() {
    let (url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(url, pool, &[("HAAT_PROVIDER_TIMEOUT_MS", "1000")]).await;
    let (_, order) = two_members_and_an_order(&app, "online").await;
    quiescent(&app.pool).await;
    app.standin.delay_next("session", Duration::from_secs(5));
    let asking = tokio::spawn({
        let (base, token, path) = (
            app.base.clone(),
            app.admin_token.clone(),
            format!("/v1/orders/{}/payments", order["id"].as_str().unwrap_or_default()),
        );
        async move {
            let res = reqwest::Client::new()
                .post(format!("{base}{path}"))
                .bearer_auth(token)
                .header("idempotency-key", "slow-gateway")
                .json(&sslcommerz())
                .send()
                .await
                .expect("reaches the api");
            (res.status(), res.json::<Value>().await.expect("json"))
        }
    });
    eventually("the gateway is being asked", || async { (app.standin.calls("session") == 1).then_some(()) }).await;
    // While the gateway keeps the api waiting, the attempt is committed and
    // no transaction is open in the database.
    let row: (String,) = sqlx::query_as("SELECT status FROM payment_attempts WHERE order_id = $1::uuid")
        .bind(order["id"].as_str())
        .fetch_one(&app.pool)
        .await
        .expect("the attempt is committed before the call");
    assert_eq!(row.0, "creating");
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("pg_stat_activity");
    assert_eq!(open, 0, "no transaction is held across the gateway call");

    let (status, attempt) = asking.await.expect("request finished");
    assert_eq!(status, StatusCode::CREATED, "{attempt}");
    assert_eq!(app.standin.calls("session"), 2, "the slow call timed out and the gateway was asked again");
    let invoice = order["invoice_no"].as_str().unwrap_or_default();
    assert_eq!(attempt["redirect_url"], format!("{}/EasyCheckOut/SK0002{invoice}", app.standin.base));
    assert_eq!(attempts(&app, &order).await.len(), 1);
}

#[tokio::test]
async fn a_refused_or_garbled_session_fails_its_attempt_and_the_next_request_opens_a_new_one() {
    let app = TestApp::spawn().await;
    let (_, order) = two_members_and_an_order(&app, "online").await;
    app.standin.answer_next("session", json!({"status": "FAILED", "failedreason": "Invalid amount"}));
    let (status, problem) = pay(&app, &order, &sslcommerz(), "a").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem}");
    assert_eq!(problem["detail"], "SSLCommerz refused: Invalid amount");
    for _ in 0..3 {
        app.standin.answer_next("session", json!({"html": "<h1>maintenance</h1>"}));
    }
    let (status, problem) = pay(&app, &order, &sslcommerz(), "b").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem}");
    assert_eq!(app.standin.calls("session"), 4, "a garbled answer is asked again, three times in all");
    app.standin.fail_next("session", 3);
    let (status, problem) = pay(&app, &order, &sslcommerz(), "c").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{problem}");
    // A 504 frees its key: the same request, asked again, opens a session.
    let (status, attempt) = pay(&app, &order, &sslcommerz(), "c").await;
    assert_eq!(status, StatusCode::CREATED, "{attempt}");
    let statuses: Vec<Value> = attempts(&app, &order).await.iter().map(|a| a["status"].clone()).collect();
    assert_eq!(statuses, ["failed", "failed", "failed", "open"]);
}

#[tokio::test]
async fn an_sslcommerz_session_its_ipn_and_the_validation_api_pay_the_order() {
    let app = TestApp::spawn().await;
    let (_, order) = two_members_and_an_order(&app, "online").await;
    let (status, attempt) = pay(&app, &order, &sslcommerz(), "pay-1").await;
    assert_eq!(status, StatusCode::CREATED, "{attempt}");
    // The buyer pays on the gateway's page; SSLCommerz posts its IPN.
    let val_id = "2612011200001abcDEF";
    app.standin.register_validation(
        val_id,
        json!({"status": "VALID", "tran_id": order["invoice_no"], "val_id": val_id, "amount": "450.00",
               "store_amount": "438.75", "currency": "BDT", "risk_level": "0"}),
    );
    let fields = valid_ipn_fields(&order, val_id);
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(app.sslcommerz(sslcommerz_ipn(&refs, SSL_STORE_PASSWORD)).await, StatusCode::OK);
    let id = order["id"].as_str().unwrap_or_default().to_owned();
    eventually("the order is paid", || async {
        (app.admin("GET", &format!("/v1/orders/{id}"), None).await.1["status"] == "paid").then_some(())
    })
    .await;
    assert_eq!(app.standin.calls("validation"), 1);
    let listed = attempts(&app, &order).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "paid");
    // Paid: no new session can be opened for it.
    let (status, problem) = pay(&app, &order, &sslcommerz(), "pay-2").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
}

#[tokio::test]
async fn bkash_create_answers_its_page_and_one_grant_token_serves_every_call_of_a_process() {
    let app = TestApp::spawn().await;
    let (chain, first) = two_members_and_an_order(&app, "online").await;
    let tea = app.create_product("TEA-250", "250.00", "150.00", 10).await;
    let second = app.place_order(&chain[1], &tea, 2, "online").await;
    let bkash = json!({"provider": "bkash", "return_url": RETURN_URL});
    let mut payment_ids = Vec::new();
    for (order, key) in [(&first, "b1"), (&second, "b2")] {
        let (status, attempt) = pay(&app, order, &bkash, key).await;
        assert_eq!(status, StatusCode::CREATED, "{attempt}");
        let url = attempt["redirect_url"].as_str().unwrap_or_default().to_owned();
        payment_ids.push(url.rsplit("paymentId=").next().unwrap_or_default().to_owned());
    }
    let bodies = app.standin.create_bodies();
    assert_eq!(bodies[0]["amount"], "450.00");
    assert_eq!(bodies[1]["amount"], "500.00");
    assert_eq!(bodies[1]["merchantInvoiceNumber"], second["invoice_no"]);
    assert!(bodies[0]["callbackURL"].as_str().unwrap_or_default().ends_with("/v1/webhooks/payments/bkash"));
    assert_eq!(app.standin.calls("grant"), 1, "the api asked for one token for both sessions");

    for (id, (order, amount)) in payment_ids.iter().zip([(&first, "450.00"), (&second, "500.00")]) {
        app.standin.register_payment(
            id,
            json!({"statusCode": "0000", "statusMessage": "Successful", "paymentID": id, "trxID": format!("TRX{id}"),
                   "amount": amount, "transactionStatus": "Completed", "currency": "BDT", "intent": "sale",
                   "merchantInvoiceNumber": order["invoice_no"]}),
        );
        // The buyer's browser comes back from bKash and goes on to the storefront.
        let (status, location) = app.bkash_callback_answer(id, "success").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some(RETURN_URL));
    }
    for order in [&first, &second] {
        let id = order["id"].as_str().unwrap_or_default().to_owned();
        eventually("the order is paid", || async {
            (app.admin("GET", &format!("/v1/orders/{id}"), None).await.1["status"] == "paid").then_some(())
        })
        .await;
        assert_eq!(attempts(&app, order).await[0]["status"], "paid");
    }
    assert_eq!(app.standin.calls("execute"), 2);
    assert_eq!(app.standin.calls("grant"), 2, "one token for the api, one for the worker's two confirmations");
}

#[tokio::test]
async fn a_session_past_its_life_reads_expired_and_the_buyer_can_open_a_new_one() {
    let (url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(url, pool, &[("HAAT_PAYMENT_SESSION_SECONDS", "1")]).await;
    let (_, order) = two_members_and_an_order(&app, "online").await;
    let (status, first) = pay(&app, &order, &sslcommerz(), "s1").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let expired = eventually("the session's life has passed", || async {
        attempts(&app, &order).await.pop().filter(|a| a["status"] == "expired")
    })
    .await;
    assert_eq!(expired["id"], first["id"]);
    let (status, second) = pay(&app, &order, &sslcommerz(), "s2").await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["status"], "open");
    let statuses: Vec<Value> = attempts(&app, &order).await.iter().map(|a| a["status"].clone()).collect();
    assert_eq!(statuses, ["expired", "open"]);
}

#[tokio::test]
async fn the_buyer_opens_a_payment_for_its_own_order_and_no_one_elses() {
    let app = TestApp::spawn().await;
    let (chain, order) = two_members_and_an_order(&app, "online").await;
    let key_of = |member: &Value| {
        let body = json!({"role": "member", "member_id": member["id"]});
        let app = &app;
        async move {
            app.admin("POST", "/v1/admin/api-keys", Some(&body)).await.1["token"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    let (buyer, sponsor) = (key_of(&chain[1]).await, key_of(&chain[0]).await);
    let path = format!("/v1/orders/{}/payments", order["id"].as_str().unwrap_or_default());
    let body = Some(sslcommerz().to_string());
    let (status, _) = app.call_with("POST", &path, &sponsor, body.clone(), &[("idempotency-key", "m1")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.standin.calls("session"), 0);
    let (status, attempt) = app.call_with("POST", &path, &buyer, body, &[("idempotency-key", "m2")]).await;
    assert_eq!(status, StatusCode::CREATED, "{attempt}");
}
